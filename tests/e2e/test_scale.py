"""A 1,000-tree LightGBM model through -O2 and the C backend, compiled and run on the host.

Shallow trees and the table layout keep the compile quick (gcc -Os on 1,000 inlined
trees takes over a minute here); the point is the tree count: every stage (load,
passes, emission, gcc) must handle it and agree with LightGBM's predict.
"""

from __future__ import annotations

import numpy as np

from emlc import load
from emlc.passes import optimize
from tests.conftest import require_tool

N_TREES = 1_000


def test_thousand_tree_lightgbm_matches_library_predict():
    require_tool("gcc")
    import lightgbm as lgb

    from tests.e2e.harness import run_model

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 12))
    y = (X[:, 0] + X[:, 1] * X[:, 2] - 0.5 * X[:, 3] > 0).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 4, "learning_rate": 0.05, "verbose": -1, "seed": 1},
        lgb.Dataset(X, y), N_TREES,
    )
    assert booster.num_trees() == N_TREES
    rows = rng.normal(size=(300, 12)).astype(np.float32)
    rows[::17, 4] = np.nan
    result = optimize(load(booster), level="O2")
    got = run_model(result.ensemble, rows, "host", layout="table", name="big")
    want = (booster.predict(rows.astype(np.float64)) > 0.5).astype(int)
    np.testing.assert_array_equal(got.predict, want)
    np.testing.assert_allclose(got.values[:, -1], booster.predict(rows.astype(np.float64)), rtol=1e-5, atol=1e-6)
