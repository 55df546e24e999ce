"""The numpy lowering of plain LightGBM trees gives exactly the per-node lowering's IR."""

from __future__ import annotations

import numpy as np
import pytest

from emlc.frontends import lightgbm as lgbf
from emlc.frontends.treebuild import Tables

lgb = pytest.importorskip("lightgbm")


def _booster(zero_as_missing: bool, nan: bool):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 5))
    if nan:
        X[rng.random(X.shape) < 0.15] = np.nan
    if zero_as_missing:
        X[rng.random(X.shape) < 0.3] = 0.0
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) > 0).astype(int)
    model = lgb.LGBMClassifier(n_estimators=12, num_leaves=9, min_child_samples=3, verbose=-1,
                               zero_as_missing=zero_as_missing).fit(X, y)
    return lgbf.parse_text(model.booster_.model_to_string(), "model")


@pytest.mark.parametrize("zero_as_missing,nan", [(False, False), (False, True), (True, True)])
def test_plain_trees_match_per_node_lowering(zero_as_missing: bool, nan: bool) -> None:
    parsed = _booster(zero_as_missing, nan)
    n_plain = 0
    for tree in parsed.trees:
        fast_tables, slow_tables = Tables(leaf_rows=[[0.5]]), Tables(leaf_rows=[[0.5]])
        fast = lgbf._plain_tree(tree, parsed.n_features, fast_tables)
        slow = lgbf._guarded_tree(tree, parsed.n_features, slow_tables)
        if fast is None:
            continue
        n_plain += 1
        assert fast.same_as(slow)
        assert fast_tables.leaf_rows == slow_tables.leaf_rows
    assert (n_plain > 0) is not zero_as_missing  # zero bands need guards: per-node path


def test_corrupt_tree_still_reports_through_per_node_path() -> None:
    parsed = _booster(False, False)
    tree = next(t for t in parsed.trees if len(t.split_feature) > 1)
    tree.left_child[1] = 0  # a cycle back to the root
    with pytest.raises(lgbf.EmlcError, match="reached twice"):
        lgbf._tree(tree, parsed.n_features, Tables())
