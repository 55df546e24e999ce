"""The pass manager: registry, levels, pass lists, IR printing, layout and reports."""

from __future__ import annotations

import io

import numpy as np
import pytest

from emlc.errors import EmlcError, IRError
from emlc.ir.text import parse_ir
from emlc.passes import LEVELS, PASSES, optimize, pipeline
from emlc.cost import Layout, Point, choose_layout, flash_bytes
from emlc.passes.manager import Pass
from emlc.targets import TARGETS, get_target
from tests.passes.test_golden import CASES, model, stump_forest


def test_every_registry_key_is_its_pass_name():
    for key, p in PASSES.items():
        assert key == p.name


def test_every_pass_documents_what_it_guarantees():
    for p in PASSES.values():
        assert len(p.doc) > 80, p.name


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_levels_use_registered_passes_and_o0_does_nothing(target):
    assert pipeline("O0", get_target(target)) == []
    for level in LEVELS:
        assert all(PASSES[n].lossless for n in pipeline(level, get_target(target)))


def test_o2_ranks_features_only_without_an_fpu():
    assert "rank_features" in pipeline("O2", get_target("avr"))
    assert "rank_features" not in pipeline("O2", get_target("host"))
    assert "early_exit" not in pipeline("Os", get_target("avr"))


def test_unknown_names_are_user_errors_listing_the_choices():
    ens = stump_forest()
    with pytest.raises(EmlcError, match="unknown pass 'fold'.*valid passes: prune_dead"):
        optimize(ens, passes=["prune_dead", "fold"])
    with pytest.raises(EmlcError, match="unknown optimisation level 'O3'"):
        optimize(ens, level="O3")
    with pytest.raises(EmlcError, match="unknown layout"):
        optimize(ens, layout="tree")
    with pytest.raises(EmlcError, match="unknown target"):
        optimize(ens, target="z80")
    with pytest.raises(EmlcError, match="print_ir_after 'dce'"):
        optimize(ens, print_ir_after={"dce"})


def test_chosen_passes_run_in_the_given_order_and_print_ir():
    before, _ = CASES["dedup_leaves"]
    stream = io.StringIO()
    res = optimize(model(before), passes=["dedup_leaves", "preorder_layout"], print_ir_after={"dedup_leaves"}, stream=stream)
    assert [r.name for r in res.passes] == ["dedup_leaves", "preorder_layout"]
    assert res.passes[0].leaf_rows == (5, 2)
    text = stream.getvalue()
    assert text.startswith("// IR after dedup_leaves\n") and "preorder_layout" not in text
    assert parse_ir(text.split("\n", 1)[1]).leaves.shape[0] == 2
    everything = io.StringIO()
    optimize(model(before), level="O1", print_ir_after="all", stream=everything)
    assert everything.getvalue().count("// IR after") == len(pipeline("O1", get_target("host")))


def test_ir_is_verified_before_and_after_every_pass_or_at_the_end():
    bad = stump_forest().replace(n_outputs=3)
    with pytest.raises(IRError):
        optimize(bad, level="O0")
    broken = Pass("break_leaves", lambda e: e.replace(leaves=e.leaves[:1]))
    PASSES["break_leaves"] = broken
    try:
        with pytest.raises(IRError, match="internal error: pass break_leaves produced invalid IR"):
            optimize(stump_forest(), passes=["break_leaves"], verify_each=True)
        # without verify_each only the result is checked: still an error, naming the switch
        with pytest.raises(IRError, match="optimized IR is invalid.*EMLC_VERIFY_EACH"):
            optimize(stump_forest(), passes=["break_leaves"], verify_each=False)
    finally:
        del PASSES["break_leaves"]


def test_a_lossy_pass_drops_exact_early_exit_bounds():
    halve = Pass("halve_leaves", lambda e: e.replace(leaves=e.leaves / 2), lossless=False)
    PASSES["halve_leaves"] = halve
    try:
        res = optimize(stump_forest(), passes=["early_exit", "halve_leaves"])
    finally:
        del PASSES["halve_leaves"]
    assert res.ensemble.early_exit is None


def test_layout_follows_level_and_flash_and_can_be_forced():
    ens = stump_forest()
    host, tiny = get_target("host"), get_target("rv32ec")
    assert choose_layout(ens, host, "O2") == "inline"
    small = "inline" if flash_bytes(ens, tiny, Layout.INLINE) < flash_bytes(ens, tiny, Layout.TABLE, packed=True) else "table"
    assert choose_layout(ens, tiny, "Os") == small
    big = ens.replace(trees=ens.trees * 400, tree_output=np.zeros(1200, np.int32))
    assert flash_bytes(big, tiny, Layout.INLINE) > tiny.flash_bytes / 2
    assert choose_layout(big, tiny, "O2") == "table"
    assert optimize(ens, layout="table").layout == "table"


def test_table_estimate_follows_the_backends_leaf_storage():
    """The cost model counts leaves as the C backend stores them (sparse float rows, 4-byte
    doubles on AVR): its table estimate stays near the backend's own (which may go lower
    still with byte counts for forest leaves, which the cost model does not analyse)."""
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc
    from emlc.backends.c import size_report

    X, y = load_digits(return_X_y=True)
    ens = optimize(emlc.load(RandomForestClassifier(n_estimators=6, max_depth=6, random_state=0).fit(X, y)),
                   level="Os", target="avr").ensemble
    for target in ("avr", "host"):
        # the binary64 step (c/soft64.py) costs both layouts the same, so the layout cost leaves it out;
        # the plain table walk (the speed levels may put an inline head before it)
        backend = size_report(ens, target, "table", float32_sums=True, point=Point(Layout.TABLE))["flash_bytes_estimate"]
        assert 0.7 * backend <= flash_bytes(ens, get_target(target), Layout.TABLE) <= 2 * backend
