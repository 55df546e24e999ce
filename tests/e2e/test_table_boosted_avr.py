"""-Os on a boosted model: an XGBoost binary classifier (60 trees of depth 5, trained with
10% NaN) takes decision records only in the table layout (walk_table's counted
encoding), its keys without their top byte, at most 5 B per decision node, and on
simavr's ATmega2560 predicts every row, NaN cells included, exactly as xgboost does."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

import emlc
from emlc.backends.c import emit_c, size_report
from emlc.backends.c.plan import TableForcing
from emlc.passes import optimize
from emlc.targets import get_target
from tests.backends.c.test_walk_table import RECORDS, _records
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


def test_os_stores_decision_records_only(built):
    _, _, res = built
    assert res.layout == "table"
    ens = res.ensemble
    rec = _records(ens)  # -Os on the AVR
    old = _records(ens, forcing=RECORDS)
    decision = ens.n_nodes - ens.n_leaves
    one_leaf = sum(t.n_nodes == 1 for t in ens.trees)  # late trees without a split
    assert rec.counted and rec.kind.size == decision + one_leaf
    # rows in order in all but the few trees with a leaf merge_subtrees shares (reached twice)
    assert rec.lmap is None or rec.lmap.size < ens.n_leaves // 10
    assert rec.bytes < old.bytes
    rep = size_report(ens, "avr", "table", speed=False)
    assert rep["node_table_bytes"] == rec.bytes


def test_os_takes_at_most_five_bytes_per_decision_node(built):
    """Issue #16: every table byte the walk reads but the leaf values (1,230 float32), per
    decision node: the 16-bit records, the keys without their top byte (3 B each), the
    runs of top bytes and their slot bases, the slots' key bases, the coarse slot table,
    the tree roots, each tree's first leaf and the leaf-row map. 5.31 B before the split
    keys, 8.95 B with leaf records."""
    _, _, res = built
    ens = res.ensemble
    rec = _records(ens)
    decision = ens.n_nodes - ens.n_leaves
    assert rec.split_top and rec.key_bytes == 3 and rec.record_bytes == 2
    assert rec.bytes <= 5.0 * decision
    rep = size_report(ens, "avr", "table", speed=False)
    assert rep["node_table_bytes"] == rec.bytes and rep["node_bytes_per_decision_node"] <= 5.0


def _linked(ens, forcing: TableForcing = TableForcing()) -> int:
    """text + data of an ATmega2560 program calling predict and predict_proba."""
    header = emit_c(ens, "avr", "m", "table", speed=False, forcing=forcing)
    main = (header + "\nint main(void) {\n    static float x[20];\n    static float p[2];\n"
            "    return (int)m_predict(x, 20) + (int)m_predict_proba(x, 20, p, 2);\n}\n")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.c").write_text(main)
        subprocess.run(["avr-gcc", "-mmcu=atmega2560", "-Os", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                        "m.c", "-o", "m.elf"], cwd=tmp, check=True)
        out = subprocess.run(["avr-size", "-A", "m.elf"], cwd=tmp, check=True, capture_output=True, text=True).stdout
    return sum(int(m.group(2)) for m in re.finditer(r"^\.(text|data)\s+(\d+)", out, re.M))


def test_split_keys_shrink_the_linked_build_within_the_estimate(built):
    """The keys' top byte in runs saves linked flash, its lookup's code included, and the
    flash estimate stays at or above the link and within 1.6x of it."""
    require_tool("avr-gcc")
    _, _, res = built
    ens = res.ensemble
    linked = _linked(ens)
    whole = _linked(ens, TableForcing(split_top=False))
    assert linked + 300 < whole
    estimate = size_report(ens, "avr", "table", speed=False)["flash_bytes_estimate"]
    assert linked <= estimate <= 1.6 * linked


def test_cost_model_counts_decision_records_only(built):
    """emlc/cost.py estimates the table layout with the smaller encoding: within a
    quarter of the backend's own data bytes, where leaf records alone overshot."""
    from emlc.cost import Layout as CostLayout, data_bytes

    _, _, res = built
    ens = res.ensemble
    avr = get_target("avr")
    backend = size_report(ens, avr, "table", speed=False)["flash_data_bytes"]
    assert 0.75 * backend <= data_bytes(ens, avr, CostLayout.TABLE, packed=True) <= 1.25 * backend
    # the speed levels never drop the keys' top byte: their estimate counts whole keys
    assert data_bytes(ens, avr, CostLayout.TABLE) > data_bytes(ens, avr, CostLayout.TABLE, packed=True)
    old = size_report(ens, avr, "table", speed=False, forcing=RECORDS)["flash_data_bytes"]
    assert backend < old


def test_os_build_equals_xgboost_on_simavr(built):
    require_tool(*TOOLS["avr"])
    model, rows, res = built
    assert np.isnan(rows).any(axis=1).mean() > 0.5
    got = run_model(res.ensemble, rows, "avr", res.layout, speed=False)
    np.testing.assert_array_equal(np.asarray(res.ensemble.classes)[got.predict], model.predict(rows))
