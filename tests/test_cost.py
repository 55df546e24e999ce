"""emlc.cost rules that are not about one backend's emitted bytes."""

from __future__ import annotations

import numpy as np
import pytest

import emlc
from emlc.backends.c import exit_checks
from emlc.backends.c.plan import make_plan
from emlc.cost import Layout, exit_batch
from emlc.passes import optimize
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


@pytest.mark.parametrize("trees, depth, want", [(10, 6, 2), (20, 5, 3), (30, 6, 3)])
def test_exact_exit_interval_on_the_avr_table_walk(trees, depth, want):
    """The exact exit's cheaper check against trees that add leaf records in assembly:
    every second tree for 10x6 (simavr, ATmega328P: 4,411 cycles, 4,408 checking every
    tree), every third for 20x5 and 30x6 (7,458 and 10,115 against 7,499 and 10,393 every
    second)."""
    ens = optimize(_digits(trees, depth), level="O2", target="atmega328p", layout="table").ensemble
    assert exit_batch(ens, get_target("atmega328p"), Layout.TABLE, exact=True) == want


def test_the_c_plan_checks_an_exact_exit_at_its_interval_with_the_same_bounds():
    """Each check point's bounds hold on their own, so the interval only drops check points."""
    ens = optimize(_digits(20, 5), level="O2", target="atmega328p", layout="table").ensemble
    plan = make_plan(ens, get_target("atmega328p"), "table")
    ours = plan.exit
    full = exit_checks.plan(ens, plan.numbers, plan.fixed, plan.soft64_candidate, plan.leaf_sums, True)
    assert len(ours.checkpoints) and (ours.checkpoints % 3 == 0).all()
    at = [list(full.checkpoints).index(c) for c in ours.checkpoints]
    assert (ours.lower == full.lower[at]).all() and (ours.upper == full.upper[at]).all()
