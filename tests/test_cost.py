"""emlc.cost rules that are not about one backend's emitted bytes."""

from __future__ import annotations

import numpy as np
import pytest

import emlc
from emlc.backends.c import exit_checks
from emlc.backends.c.plan import make_plan
from emlc.cost import Layout, exit_batch, stop_shares
from emlc.passes import optimize
from emlc.passes.manager import pipeline
from emlc.passes.lossy.apply import apply_lossy
from emlc.targets import get_target


def _digits(trees: int, depth: int):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, _, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    return emlc.load(RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=0).fit(Xtr, ytr))


@pytest.mark.parametrize("trees, depth, want", [(10, 6, 2), (20, 5, 3)])
def test_exit_batch_on_the_avr_table_walk_is_the_fastest_simavr_found(trees, depth, want):
    """The intervals simavr measured fastest among 1-4 on the ATmega328P (cost.exit_batch's
    docstring; tests/e2e/test_avr_exit_cycles.py runs them against the build without)."""
    ens = optimize(_digits(trees, depth), level="O2", target="atmega328p", layout="table").ensemble
    assert exit_batch(ens, get_target("atmega328p"), Layout.TABLE) == want


def test_exit_batch_is_every_tree_where_checks_are_cheap():
    ens = optimize(_digits(10, 6), level="O2", target="host").ensemble
    for target, layout in (("host", Layout.TABLE), ("cortex-m0", Layout.TABLE), ("avr", Layout.INLINE)):
        assert exit_batch(ens, get_target(target), layout) == 1, target


def test_an_explicit_exit_batch_wins():
    """(Leaves nudged off the count fractions: the AVR table build has no leaf records to
    keep, so the lossy exit stays: plan.lossy_exit_note.)"""
    ens = _digits(20, 5)
    leaves = np.asarray(ens.leaves)
    ens = ens.replace(leaves=np.where(leaves > 0, np.nextafter(leaves, 2.0), leaves).astype(leaves.dtype))
    auto, _ = apply_lossy(ens, early_exit=0.5, level="O2", target="atmega328p", layout="table")
    every, _ = apply_lossy(ens, early_exit=0.5, early_exit_batch=1, level="O2", target="atmega328p", layout="table")
    assert auto.early_exit.confidence == every.early_exit.confidence == 0.5
    assert auto.early_exit.checkpoints[0] == 3
    assert every.early_exit.checkpoints[0] == 1


@pytest.mark.parametrize("trees, depth", [(10, 6), (20, 5)])
def test_stop_shares_follow_the_rows_the_exact_exit_stops(trees, depth):
    """The share of rows each exact check stops, estimated from the bounds and the leaves
    alone, is within 0.17 of the interpreter's on every digits row."""
    from sklearn.datasets import load_digits

    from emlc.ir.interpret import interpret_trees_evaluated

    ens = optimize(_digits(trees, depth), level="O2", target="atmega328p", layout="table").ensemble
    at = ens.early_exit.checkpoints
    evaluated = interpret_trees_evaluated(ens, load_digits(return_X_y=True)[0])
    stopped = (evaluated[:, None] <= at[None, :]).mean(axis=0)
    assert np.abs(stop_shares(ens, at) - stopped).max() <= 0.17


@pytest.mark.parametrize("trees, depth, stored, head, want", [
    (10, 6, True, 4, None), (20, 5, True, 2, [14]), (30, 6, False, 0, [18, 21, 24, 27])])
def test_exact_exit_checks_only_where_simavr_found_they_pay(trees, depth, stored, head, want):
    """The ATmega328P's default -O2 points (cost._EXACT_CHECK_OUTPUT's note): digits 10x6
    behind a 4-level head runs 3,233 cycles without the exit, 3,339 checking after tree 6;
    20x5 behind 2 levels 6,097 checking after tree 14 (6,110 every third tree, 6,326
    without); 30x6 on multipliers 10,115 every third tree (12,157 without)."""
    ens = optimize(_digits(trees, depth), level="O2", target="atmega328p", layout="table").ensemble
    plan = make_plan(ens, get_target("atmega328p"), "table", stored_records=stored, head=head)
    assert (None if plan.exit is None else plan.exit.checkpoints.tolist()) == want


def test_the_c_plan_checks_an_exact_exit_at_its_interval_with_the_same_bounds():
    """Each check point's bounds hold on their own, so the interval only drops check points."""
    ens = optimize(_digits(20, 5), level="O2", target="atmega328p", layout="table").ensemble
    plan = make_plan(ens, get_target("atmega328p"), "table")
    ours = plan.exit
    full = exit_checks.plan(ens, plan.numbers, plan.fixed, plan.soft64_candidate, plan.leaf_sums, True)
    assert 0 < len(ours.checkpoints) < len(full.checkpoints)
    at = [list(full.checkpoints).index(c) for c in ours.checkpoints]
    assert (ours.lower == full.lower[at]).all() and (ours.upper == full.upper[at]).all()


@pytest.mark.parametrize("trees, depth, want", [(10, 6, [7]), (20, 5, [14]), (30, 6, [22])])
def test_the_os_exact_exit_is_weighed_on_the_packed_walk_and_checks_least(trees, depth, want):
    """-Os with the exact exit (its pass added to the level's) on the ATmega328P: the interval rule
    weighs the packed walk the build takes (about 115 cycles a test, not the half-word
    walk's 41) and, size first, takes the fewest checks that save cycles. simavr, digits
    -Os: 10x6 10,064 B, 9,441 cycles (unchanged); 20x5 11,946 B, 16,396 (unchanged; the
    packed walk's fastest interval, checks after 12, 14 and 16, would be 86 B more for 663
    fewer cycles); 30x6 20,694 B, 29,094 cycles, where the speed walk's weights checked
    after 18, 21, 24 and 27 trees: 20,822 B, 26,079."""
    passes = [*pipeline("Os", get_target("atmega328p")), "early_exit"]
    res = optimize(_digits(trees, depth), level="Os", target="atmega328p", passes=passes)
    plan = make_plan(res.ensemble, get_target("atmega328p"), res.layout, pack_tables=True)
    assert plan.pack_tables and plan.exit is not None and plan.exit.checkpoints.tolist() == want


def _boosted_digits(rounds: int, binary: bool = False):
    import xgboost
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, _, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    model = xgboost.XGBClassifier(n_estimators=rounds, max_depth=3, random_state=0, n_jobs=1).fit(
        Xtr, ytr >= 5 if binary else ytr)
    return optimize(emlc.load(model), level="O2", target="atmega328p").ensemble


@pytest.mark.parametrize("rounds, want", [(5, [30]), (10, [50]), (20, [40, 80, 120, 160])])
def test_boosted_exact_exit_checks_float_sums_where_simavr_found_them_pay(rounds, want):
    """One tree per class (XGBoost, 10 digits classes, depth 3) on the ATmega328P: the
    exact exit's checks of the float sums are spaced in whole rounds, where the rows they
    stop (cost.round_stop_shares) save more than they cost (simavr, default -O2 builds,
    cost.exact_exit_interval's note: 5 rounds 12,552 cycles checking after round 3,
    13,783 without, 15,262 every round; 10 rounds 22,405 after round 5, 23,609 every
    second; 20 rounds 42,538 every fourth, 43,997 every third, 58,441 without)."""
    ens = _boosted_digits(rounds)
    plan = make_plan(ens, get_target("atmega328p"), "table")
    assert plan.exit is not None and not plan.exit.check_t.startswith("int")
    assert plan.exit.checkpoints.tolist() == want


@pytest.mark.parametrize("rounds", [5, 10])
def test_round_stop_shares_follow_the_rows_the_exact_exit_stops(rounds):
    """The share of rows each check point of a boosted model's exact exit stops, from the
    bounds and the leaves alone, is within 0.1 of the interpreter's on 600 digits rows."""
    from sklearn.datasets import load_digits

    from emlc.cost import round_stop_shares
    from emlc.ir.interpret import interpret_trees_evaluated

    ens = _boosted_digits(rounds)
    at = ens.early_exit.checkpoints
    evaluated = interpret_trees_evaluated(ens, load_digits(return_X_y=True)[0][:600])
    stopped = (evaluated[:, None] <= at[None, :]).mean(axis=0)
    assert np.abs(round_stop_shares(ens, at) - stopped).max() <= 0.1


def test_float_checks_are_weighed_on_the_avr_inline_walk():
    """Binary XGBoost (digits >= 5, 20 trees of depth 3) takes the inline walk on the
    ATmega328P, where a float check outweighs a few trees: the exact exit checks once,
    after tree 13 (simavr: 3,243 cycles; 3,704 without the exit; checking after every
    tree, as it once did, 7,517)."""
    ens = _boosted_digits(20, binary=True)
    assert ens.early_exit is not None
    assert make_plan(ens, get_target("atmega328p"), "inline").exit.checkpoints.tolist() == [13]
    assert make_plan(ens, get_target("cortex-m4f"), "inline").exit is not None
