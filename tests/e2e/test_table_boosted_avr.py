"""-Os on a boosted model: an XGBoost binary classifier (60 trees of depth 5, trained with
10% NaN) takes decision records only in the table layout (walk_table's counted
encoding), and on simavr's ATmega2560 predicts every row, NaN cells included, exactly as
xgboost does."""

from __future__ import annotations

import numpy as np
import pytest

import emlc
from emlc.backends.c import size_report, walk_table
from emlc.backends.c.model import Model
from emlc.backends.c.plan import Layout, make_plan
from emlc.passes import optimize
from emlc.targets import get_target
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, run_model


def boosted_with_nan(seed: int = 0):
    """The issue #16 model: (model, held-out rows with NaN)."""
    import xgboost
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=2200, n_features=20, n_informative=10, random_state=seed)
    X = X.astype(np.float32)
    X[np.random.default_rng(seed).random(X.shape) < 0.1] = np.nan
    model = xgboost.XGBClassifier(n_estimators=60, max_depth=5, random_state=seed).fit(X[:2000], y[:2000])
    return model, X[2000:]


@pytest.fixture(scope="module")
def built():
    model, rows = boosted_with_nan()
    res = optimize(emlc.load(model), level="Os", target="avr")
    return model, rows, res


def _records(ens, encodings):
    saved = walk_table.ENCODINGS
    walk_table.ENCODINGS = encodings
    try:
        avr = get_target("avr")
        return walk_table.encode(Model(ens, avr, "m", make_plan(ens, avr, Layout.TABLE, pack_tables=True)))  # -Os
    finally:
        walk_table.ENCODINGS = saved


def test_os_stores_decision_records_only(built):
    _, _, res = built
    assert res.layout == "table"
    ens = res.ensemble
    rec = _records(ens, walk_table.ENCODINGS)
    old = _records(ens, ("records",))
    decision = ens.n_nodes - ens.n_leaves
    one_leaf = sum(t.n_nodes == 1 for t in ens.trees)  # late trees without a split
    assert rec.counted and rec.kind.size == decision + one_leaf
    # rows in order in all but the few trees with a leaf merge_subtrees shares (reached twice)
    assert rec.lmap is None or rec.lmap.size < ens.n_leaves // 10
    assert rec.bytes < old.bytes
    rep = size_report(ens, "avr", "table", speed=False)
    assert rep["node_table_bytes"] == rec.bytes


def test_cost_model_counts_decision_records_only(built):
    """emlc/cost.py estimates the table layout with the smaller encoding: within a
    quarter of the backend's own data bytes, where leaf records alone overshot."""
    from emlc.cost import Layout as CostLayout, data_bytes

    _, _, res = built
    ens = res.ensemble
    avr = get_target("avr")
    backend = size_report(ens, avr, "table", speed=False)["flash_data_bytes"]
    assert 0.75 * backend <= data_bytes(ens, avr, CostLayout.TABLE) <= 1.25 * backend
    saved = walk_table.ENCODINGS
    walk_table.ENCODINGS = ("records",)
    try:
        old = size_report(ens, avr, "table", speed=False)["flash_data_bytes"]
    finally:
        walk_table.ENCODINGS = saved
    assert backend < old


def test_os_build_equals_xgboost_on_simavr(built):
    require_tool(*TOOLS["avr"])
    model, rows, res = built
    assert np.isnan(rows).any(axis=1).mean() > 0.5
    got = run_model(res.ensemble, rows, "avr", res.layout, speed=False)
    np.testing.assert_array_equal(np.asarray(res.ensemble.classes)[got.predict], model.predict(rows))
