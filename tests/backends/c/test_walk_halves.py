"""The speed levels' half-word table records on AVR (walk_halves): where they apply, what
they cost next to the cost model's estimate, and that random forests walk them exactly."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c, size_report
from emlc.backends.c.model import Model
from emlc.backends.c.plan import Layout, make_plan
from emlc.backends.c import walk_halves
from emlc.cost import data_bytes
from emlc.targets import get_target
from tests.backends.c.test_emit import check_agrees
from tests.conftest import require_tool
from tests.strategies import ensembles, inputs_for


def _model(ens, target: str = "avr", packed: bool = False) -> Model:
    tgt = get_target(target)
    return Model(ens, tgt, "m", make_plan(ens, tgt, Layout.TABLE, pack_tables=packed))


@settings(max_examples=40)
@given(ens=ensembles(categorical=False, integer_inputs=False, max_features=8))
def test_records_apply_at_speed_on_avr_and_cost_no_more_than_estimated(ens):
    """float32 forests on AVR at the speed levels walk half-word records, whose bytes the
    cost model never underestimates (it is exact without folded splits); -Os keeps the
    packed records, other targets the slot records."""
    assert walk_halves.applies(_model(ens))
    assert not walk_halves.applies(_model(ens, packed=True)) and not walk_halves.applies(_model(ens, "cortex-m0"))
    report = size_report(ens, "avr", "table")
    shared = data_bytes(ens, get_target("avr"), Layout.INLINE)
    assert report["node_table_bytes"] <= data_bytes(ens, get_target("avr"), Layout.TABLE) - shared
    code = emit_c(ens, "avr", "m", "table")
    assert "m_nodes" in code and "m_nodes" not in emit_c(ens, "avr", "m", "table", speed=False)


@settings(max_examples=15)
@given(data=st.data())
def test_random_forests_walk_exactly_on_avr(data):
    """Random float32 forests (shared subtrees, ``<`` and ``<=``, ranked features,
    thresholds off the float32 grid) and rows of special values on simavr."""
    require_tool("avr-gcc", "simavr")
    ens = data.draw(ensembles(categorical=False, integer_inputs=False, max_trees=4, max_depth=5))
    X = data.draw(inputs_for(ens, max_rows=20))
    assert "m_nodes" in emit_c(ens, "avr", "m", "table")
    check_agrees(ens, X, "table", "avr")


def test_kl_is_left_out_when_every_lower_half_is_zero():
    """x.5 thresholds (digits): 4-byte decision records; x.1 needs the lower half: 6."""
    from tests.backends.c.test_walk_table import _chain, _regressor

    ens = _regressor([_chain(10)], n_features=3, n_rows=4)
    halves = size_report(ens, "avr", "table")
    assert halves["table_record_bytes"] == 4
    tree = ens.trees[0]
    tenths = ens.replace(trees=(tree.replace(threshold=np.where(tree.op != 0, tree.threshold + 0.1, 0.0)),))
    assert size_report(tenths, "avr", "table")["table_record_bytes"] == 6
