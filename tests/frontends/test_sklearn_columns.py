"""scikit-learn models are lowered all trees at once, into whole-ensemble node columns."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import ensemble

import emlc
from emlc.ir import Tree


@pytest.mark.parametrize("make", [
    lambda: ensemble.RandomForestClassifier(n_estimators=6, max_depth=4, random_state=0),
    lambda: ensemble.GradientBoostingClassifier(n_estimators=4, max_depth=2, random_state=0),
    lambda: ensemble.IsolationForest(n_estimators=5, max_features=3, random_state=0),
])
def test_forests_are_cut_from_their_columns(make):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    model = make().fit(X, y)
    ens = emlc.load(model)
    assert ens.cut_from_columns
    for name in Tree.COLUMNS:
        assert np.array_equal(ens.column(name), np.concatenate([getattr(t, name) for t in ens.trees]))
    rows = np.concatenate([t.leaf[t.leaf >= 0] for t in ens.trees])
    assert np.array_equal(rows, np.arange(ens.leaves.shape[0]))  # rows in tree and node order
    n_trees = sum(len(np.atleast_1d(s)) for s in model.estimators_)
    assert ens.n_trees == n_trees and [t.n_nodes for t in ens.trees] == [
        e.tree_.node_count for s in model.estimators_ for e in np.atleast_1d(s)
    ]
