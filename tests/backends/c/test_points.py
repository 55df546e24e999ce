"""The speed/size choice: the speed levels take the fastest build point within the flash
budget, -Os the smallest, and the report lists every point considered."""

from __future__ import annotations

import json

import numpy as np
import pytest

import emlc
from emlc.backends.c import choose, emit_c, size_report
from emlc.cli import main
from emlc.backends.c.points import grown_head
from emlc.cost import HEAD_LEVELS, FlashBudget, Layout, Point, cycles, expected_tests, inline_head
from emlc.errors import EmlcError
from emlc.passes import optimize
from emlc.targets import get_target


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_digits(return_X_y=True)
    clf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y)
    return optimize(emlc.load(clf), level="O2", target="avr").ensemble, clf


@pytest.mark.parametrize("text, budget", [
    ("12000", FlashBudget(bytes=12000)), ("24K", FlashBudget(bytes=24576)), ("24KiB", FlashBudget(bytes=24576)),
    ("40%", FlashBudget(share=0.4)), ("100%", FlashBudget(share=1.0)), ("512B", FlashBudget(bytes=512)),
])
def test_budget_parses_bytes_and_shares(text, budget):
    assert FlashBudget.parse(text) == budget


@pytest.mark.parametrize("text", ["", "-5", "0", "0%", "150%", "3x", "12 MB"])
def test_bad_budgets_are_one_line_errors(text, capsys):
    with pytest.raises(EmlcError, match="--flash-budget"):
        FlashBudget.parse(text)
    with pytest.raises(SystemExit) as stop:  # argparse's error, as every bad option's
        main(["model.json", "--flash-budget", text])
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("emlc: error: argument --flash-budget") and err.count("\n") == 1


def test_default_budget_is_half_the_flash():
    avr, host = get_target("avr"), get_target("host")
    assert FlashBudget().limit(avr) == avr.flash_bytes // 2
    assert FlashBudget().limit(host) is None and FlashBudget(bytes=100).limit(host) == 100


CHAIN = """emlc-ir 1
model "chain"
task classification
features 1 input float32
outputs 2 aggregation mean accum float64
link identity
decision argmax
classes int64 [0, 1]
base 0.0 0.0
leaves float64 2 x 2
  0: 1.0 0.0
  1: 0.0 1.0
catsets 0 x 1
thresholds float64
tree 0 output 0 nodes 7
  0: if x[0] <= 0.5 then 1 else 2 missing right
  1: leaf 0
  2: if x[0] <= 1.5 then 3 else 4 missing right
  3: leaf 1
  4: if x[0] <= 2.5 then 5 else 6 missing right
  5: leaf 0
  6: leaf 1
"""


def test_expected_tests_follow_every_leaf_path():
    """A chain: leaves at depths 1, 2, 3 and 3, so 9/4 tests per row. In a DAG a shared
    subtree counts once per path into it: node 3, reached from the root and from node 1,
    gives paths of 2, 3, 3, 2 and 2 tests (12/5)."""
    from emlc.ir.text import parse_ir

    assert expected_tests(parse_ir(CHAIN)) == pytest.approx(9 / 4)
    head, _ = CHAIN.split("tree 0")
    dag = head + """tree 0 output 0 nodes 6
  0: if x[0] <= 0.5 then 1 else 3 missing right
  1: if x[0] <= -1.5 then 2 else 3 missing right
  2: leaf 1
  3: if x[0] <= 2.5 then 4 else 5 missing right
  4: leaf 0
  5: leaf 1
"""
    assert expected_tests(parse_ir(dag)) == pytest.approx(12 / 5)
    # heads: the DAG's top levels once per path (node 3 at heap index 3, from 0, and 5, from 1)
    ens = parse_ir(dag)
    heads = [inline_head(ens, k) for k in range(5)]
    assert [h.size for h in heads] == [0, 1, 3, 4, 4] and heads[3].nodes == (frozenset({1, 2, 3, 5}),)
    assert [h.tests for h in heads] == pytest.approx([0, 1, 2, 2 + 2 / 5, 2 + 2 / 5])
    assert heads[4].tests == pytest.approx(expected_tests(ens)) and heads[4].levels == 3 and heads[4].depths() == [3]
    # below the top level, node 1 (3 of 5 leaf paths) before node 3 (2 of 5); a head holding
    # whole levels is named by them
    one = inline_head(ens, 1, 1)
    assert one.nodes == (frozenset({1, 2}),) and (one.levels, one.more) == (1, 1)
    assert one.tests == pytest.approx(1 + 3 / 5) and one.depths() == [2]
    two = inline_head(ens, 1, 2)
    assert two.nodes == heads[2].nodes and (two.levels, two.more) == (2, 0)


ORDER = [  # digits 10x6 float on simavr's ATmega2560 (bench_avr_digits), fastest first
    Point(Layout.INLINE, quick=True, leaf_sums=True),  # 1,061 cycles
    Point(Layout.INLINE, quick=True, leaf_sums=True, keyed=True),  # 1,166
    Point(Layout.INLINE, leaf_sums=True),  # 1,251
    Point(Layout.INLINE, quick=True, leaf_sums=True, guarded=True),  # 1,353
    Point(Layout.INLINE, leaf_sums=True, guarded=True),  # 1,478
    Point(Layout.INLINE, leaf_sums=True, byte_sums=True),  # 1,615
    Point(Layout.INLINE, leaf_sums=True, byte_sums=True, guarded=True),  # 1,861
    # the table walk's leaf records holding their fixed-point values (stored) or multipliers,
    # each behind inline heads of 6 levels down to none (P_trees adding each record as its
    # tree's walk ends); the estimate takes the 2-level multiplier point before the inline
    # layout, which simavr counts 1.9% faster (its 2- to 3-level step is 300 cycles, twice
    # the others)
    Point(Layout.TABLE, stored=True, head=6),  # 2,398
    Point(Layout.TABLE, stored=True, head=5),  # 2,533
    Point(Layout.TABLE, stored=True, head=4),  # 2,682
    Point(Layout.TABLE, stored=True, head=3),  # 2,830
    Point(Layout.TABLE, head=6),  # 2,903
    Point(Layout.TABLE, stored=True, head=2),  # 2,991
    Point(Layout.TABLE, head=5),  # 3,038
    Point(Layout.TABLE, stored=True, head=1),  # 3,154
    Point(Layout.TABLE, head=4),  # 3,187
    Point(Layout.TABLE, stored=True),  # 3,227
    Point(Layout.TABLE, head=3),  # 3,335
    Point(Layout.TABLE, head=2),  # 3,632
    Point(Layout.INLINE),  # 3,565
    Point(Layout.TABLE, head=1),  # 3,765
    Point(Layout.TABLE),  # 3,786
]


def test_cycle_estimate_ranks_the_points(digits):
    """The candidates come fastest first, as the cycle model and simavr rank them."""
    ens, _ = digits
    avr = get_target("avr")
    order = [*ORDER, Point(Layout.TABLE, packed=True)]
    estimates = [cycles(ens, avr, p) for p in order]
    assert estimates == sorted(estimates)
    assert 50 < expected_tests(ens) < 62  # digits 10x6: 59.4 node tests per test row, measured


def test_speed_takes_the_fastest_point_within_the_budget(digits):
    ens, _ = digits
    avr = get_target("avr")
    wide = choose(ens, avr, None, speed=True)
    assert [c.point for c in wide.costs] == ORDER
    assert wide.chosen is wide.costs[0] and wide.chosen.flash <= avr.flash_bytes // 2
    for limit in [c.flash for c in wide.costs] + [wide.costs[-1].flash + 1]:
        c = choose(ens, avr, None, speed=True, budget=FlashBudget(bytes=limit))
        fits = [p for p in c.costs if p.flash <= limit]
        assert c.chosen == min(fits, key=lambda p: p.cycles) and c.chosen.flash <= limit
    tight = choose(ens, avr, None, speed=True, budget=FlashBudget(bytes=1000))
    assert tight.chosen == min(tight.costs, key=lambda p: p.flash)  # none fits: the smallest


def test_grown_heads_stay_within_the_budget_and_beat_their_start(digits):
    """Every table point within the budget grows its inline head by the tests the spare
    bytes hold (grown_head): the grown point's estimate stays within the budget and is
    faster by the estimate than the point it grew from; the build takes the fastest of
    them all, a grown head that leaves less than a test's code of the budget unspent
    (unless it holds every tree's every level)."""
    ens, _ = digits
    uno = get_target("atmega328p")
    table = choose(ens, uno, "table", speed=True, point=Point(Layout.TABLE)).chosen.flash
    every = inline_head(ens, HEAD_LEVELS).size
    for limit in range(table + 1_500, table + 16_000, 1_500):  # room for a head that pays, up to all six levels
        choice = choose(ens, uno, None, speed=True, budget=FlashBudget(bytes=limit))
        starts = [c for c in choice.costs if c.point.layout is Layout.TABLE and not c.point.head_more
                  and c.flash <= limit]
        assert starts
        for start in starts:
            point = grown_head(ens, uno, start, limit)
            if point is None:
                continue
            grown = choose(ens, uno, None, speed=True, point=point).chosen
            assert grown.flash <= limit and grown.cycles < start.cycles, (limit, start.point, grown.point)
            assert grown.point in {c.point for c in choice.costs}
        chosen = choice.chosen
        assert chosen.cycles <= min(c.cycles for c in starts) and chosen.flash <= limit
        assert chosen.plan.head is not None and (chosen.point.head_more or chosen.plan.head.size == every)
        assert limit - chosen.flash < 30 or chosen.plan.head.size == every


def test_size_takes_the_smallest_point(digits):
    ens, _ = digits
    c = choose(ens, get_target("avr"), None, speed=False, budget=FlashBudget(bytes=10**9))
    assert c.chosen == min(c.costs, key=lambda p: p.flash) and c.chosen.point == Point(Layout.TABLE, packed=True)


def test_forced_layout_limits_the_points(digits):
    ens, _ = digits
    c = choose(ens, get_target("avr"), "table", speed=True, budget=FlashBudget(bytes=1000))
    assert {p.point.layout for p in c.costs} == {Layout.TABLE}
    c = choose(ens, get_target("avr"), "inline", speed=True, budget=FlashBudget(bytes=1000))
    assert {p.point.layout for p in c.costs} == {Layout.INLINE}


def test_budget_shapes_the_header(digits):
    ens, _ = digits
    fast = emit_c(ens, "avr", "m")
    mid = emit_c(ens, "avr", "m", budget=FlashBudget(bytes=80_000))
    small = emit_c(ens, "avr", "m", budget=FlashBudget(share=0.1))
    keyed = emit_c(ens, "avr", "m", budget=FlashBudget(bytes=85_000))
    assert "m_quick(" in fast and "m_quick(" not in mid and "layout inline" in mid
    assert "m_halves(" in keyed and "m_quick(" in keyed and "m_halves(" not in fast
    assert "layout table" in small
    guarded = choose(ens, get_target("avr"), None, speed=True, budget=FlashBudget(bytes=56_000)).chosen
    assert guarded.point == Point(Layout.INLINE, leaf_sums=True, guarded=True)
    nan_free = emit_c(ens, "avr", "m", budget=FlashBudget(bytes=56_000))
    assert "m_plain(" in nan_free and "m_nan_rows(" in nan_free and "m_walk(" in nan_free
    assert "slower exact path" in nan_free and "slower exact path" not in mid
    assert "32640" in mid and "32640" not in nan_free  # +inf's upper half: NaN tests only in mid's walk
    rep = size_report(ens, "avr", budget=FlashBudget(bytes=80_000))
    assert rep["flash_budget_bytes"] == 80_000
    assert [p["chosen"] for p in rep["points"]] == [False, False, True] + [False] * 19


def test_report_lists_the_points(digits, tmp_path, capsys):
    _, clf = digits
    import skops.io as sio

    model = tmp_path / "d.skops"
    sio.dump(clf, model)
    out = tmp_path / "d.h"
    assert main([str(model), "--target", "atmega328p", "-o", str(out), "--report",
                 "--report-json", str(tmp_path / "r.json")]) == 0
    err = capsys.readouterr().err
    assert "build point (estimates)" in err and "within 16384 B" in err
    rep = json.loads((tmp_path / "r.json").read_text())
    points = rep["size"]["points"]
    grown = [p for p in points if "(levels " in p["point"]]  # the candidates' heads grown to the budget
    assert len(points) == len(ORDER) + len(grown) and sum(p["chosen"] for p in points) == 1
    # the Uno's 16 KB leave room for the table walk behind an inline head, grown to the
    # budget's last 30 bytes (a test's code) and saying how deep it reaches
    chosen = next(p for p in points if p["chosen"])
    assert rep["layout"] == "table" and chosen in grown and chosen["within_budget"]
    assert 16384 - 30 < chosen["flash_bytes_estimate"] <= 16384 and "(levels " in chosen["point"]
    assert "tests below (levels " in err
    assert not any(p["within_budget"] for p in points if p["cycles_estimate"] < chosen["cycles_estimate"])
    assert main([str(model), "--target", "atmega328p", "-o", str(out), "--flash-budget", "100%",
                 "--report-json", str(tmp_path / "r2.json")]) == 0
    rep = json.loads((tmp_path / "r2.json").read_text())
    assert rep["size"]["flash_budget_bytes"] == 32768
    assert np.isfinite([p["cycles_estimate"] for p in rep["size"]["points"]]).all()


def test_32bit_speed_levels_add_leaf_sums_in_code_where_the_budget_allows(digits):
    """32-bit cores: the speed levels consider the inline walk with its leaves adding int32
    sums beside the leaf table's; the faster takes a budget that holds it, else the other."""
    ens, _ = digits
    tgt = get_target("cortex-m4f")
    made = choose(ens, tgt, None, True)
    labels = [row["point"] for row in made.rows()]
    assert "inline, leaf sums in code" in labels and "inline, leaf table" in labels
    assert made.chosen.point == Point(Layout.INLINE, leaf_sums=True)
    sums, table = (next(c for c in made.costs if c.point == Point(Layout.INLINE, leaf_sums=s)) for s in (True, False))
    assert sums.cycles < table.cycles and sums.flash > table.flash
    tight = choose(ens, tgt, None, True, budget=FlashBudget(bytes=(sums.flash + table.flash) // 2))
    assert tight.chosen.point == Point(Layout.INLINE)
    assert Point(Layout.INLINE, leaf_sums=True) not in [c.point for c in choose(ens, tgt, None, False).costs]
