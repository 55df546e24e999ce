"""Every -O level keeps real models' predictions; dedup and merging shrink them.

Small real models: a scikit-learn RandomForest on digits (10 trees, depth 6) and a
40-round binary XGBoost model (digit >= 5), loaded through ``emlc.load``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

import emlc
from emlc.ir.interpret import interpret_early_exit, interpret_trees_evaluated
from emlc.passes import LEVELS, PASSES, optimize
from tests.passes.equivalence import assert_same_results


@lru_cache(maxsize=1)
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


@lru_cache(maxsize=1)
def forest():
    from sklearn.ensemble import RandomForestClassifier

    X, y = digits()
    return emlc.load(RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y))


@lru_cache(maxsize=1)
def boosted():
    import xgboost

    X, y = digits()
    model = xgboost.XGBClassifier(n_estimators=40, max_depth=3, learning_rate=0.3, random_state=0, n_jobs=1)
    return emlc.load(model.fit(X, y >= 5))


def rows() -> np.ndarray:
    """Test rows plus NaN, infinities and every value at a threshold."""
    X, _ = digits()
    rng = np.random.default_rng(0)
    X = X[rng.choice(len(X), 200, replace=False)].copy()
    special = np.array([np.nan, np.inf, -np.inf, 0.5, 4.5, 8.5, 16.0], dtype=np.float32)
    X[:60] = np.where(rng.random((60, X.shape[1])) < 0.3, rng.choice(special, size=(60, X.shape[1])), X[:60])
    return X


MODELS = {"forest": forest, "xgboost": boosted}


@pytest.mark.parametrize(("level", "target"), [(level, "host") for level in LEVELS] + [("O2", "avr")])
@pytest.mark.parametrize("which", sorted(MODELS))
def test_levels_keep_predictions(which, level, target):
    ens = MODELS[which]()
    res = optimize(ens, level=level, target=target)
    X = rows()
    assert_same_results(ens, res.ensemble, X)
    assert np.array_equal(interpret_early_exit(res.ensemble, X), emlc.interpret(ens, X))
    assert res.layout in ("inline", "table")
    assert [r.name for r in res.passes] == [r.name for r in res.passes if r.name in PASSES]


def test_dedup_shrinks_the_forest_leaf_table():
    ens = forest()
    out = PASSES["dedup_leaves"](ens)
    assert out.leaves.shape[0] < ens.leaves.shape[0]
    assert_same_results(ens, out, rows())


def test_o2_shrinks_both_models_and_exits_early_on_xgboost():
    # the forest shrinks (dedup_leaves); the boosted model's table is already as small as
    # the passes make it: its estimate counts decision records with a global threshold index
    # (walk_table's counted encoding), which ranks and narrowed types do not shrink further
    for name, make in MODELS.items():
        ens = make()
        res = optimize(ens, level="Os", target="avr")
        before, after = res.passes[0].ir_bytes[0], res.passes[-1].ir_bytes[1]
        assert after < before if name == "forest" else after <= before
    ens = optimize(boosted(), level="O2").ensemble
    evaluated = interpret_trees_evaluated(ens, rows())
    assert evaluated.mean() < ens.n_trees


def test_report_table_lists_every_pass():
    res = optimize(forest(), level="O1")
    text = res.table()
    assert all(r.name in text for r in res.passes) and len(text.splitlines()) == len(res.passes) + 1
