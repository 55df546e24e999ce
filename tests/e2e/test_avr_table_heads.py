"""The -O2 table walk behind inline heads (emlc/backends/c/walk_head.py), linked and run on
simavr's ATmega328P and ATmega2560: every head the speed levels weigh, with both kinds of
leaf records, uniform or grown per tree to the flash budget, predicts each digits row as
scikit-learn does, each level more is faster by the simulator's count, the cost model
ranks them as the simulator does (deterministic counts, not a timing test), the flash
estimates are never below the linked size, and the 328P's budgets take a grown head no
slower than the uniform heads within them."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import pytest

import emlc
from emlc.backends.c import choose, emit_c
from emlc.cost import FlashBudget, Layout
from emlc.passes import optimize
from emlc.targets import get_target
from tests.conftest import require_tool
from tests.e2e.harness import avr_bench


@pytest.mark.parametrize("mcu, target", [("atmega328p", "atmega328p"), ("atmega2560", "avr")])
def test_heads_agree_and_rank_as_estimated(mcu, target):
    require_tool("avr-gcc", "simavr", "avr-size")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    bench = avr_bench()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    clf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(Xtr, ytr)
    ens = optimize(emlc.load(clf), level="O2", target=target).ensemble
    choice = choose(ens, get_target(target), None, speed=True)
    costs = [c for c in choice.costs if c.point.layout is Layout.TABLE]
    # depth 6: heads of 6 levels down to none, for leaf records of both kinds
    uniform = [c for c in costs if not c.point.head_more]
    assert sorted((c.point.stored, c.point.head) for c in uniform) == [(s, k) for s in (False, True) for k in range(7)]
    # the 328P's 16 KB: heads grown per tree to the budget (the 2560's 128 KB hold every level)
    grown = [c for c in costs if c.point.head_more]
    assert bool(grown) == (mcu == "atmega328p") and all(c.flash <= choice.budget for c in grown)
    assert choice.chosen in grown or mcu != "atmega328p"
    measured = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = bench.build_and_run("", "(int)x[0]", Xte, "float", work, mcu=mcu)[1]
        for cost in costs:
            code = emit_c(ens, target, "model", point=cost.point)
            assert ("model_head(&go, features)" in code) == bool(cost.point.head)
            pred, flash, _, cycles = bench.build_and_run(code, "model_predict(x, 64)", Xte, "float", work, mcu=mcu)
            np.testing.assert_array_equal(pred, clf.predict(Xte))
            assert flash - base <= cost.flash, (cost.point.label(), flash - base, cost.flash)
            measured.append(cycles)
    for kind in (False, True):  # each level more is faster
        levels = [m for c, m in zip(costs, measured) if c.point.stored is kind and not c.point.head_more]
        assert sorted(levels) == levels, levels
    # fastest first as simavr counts them, but for points within 1% of each other
    for i, j in itertools.combinations(range(len(costs)), 2):
        assert measured[i] < measured[j] * 1.01, (costs[i].point.label(), measured[i], costs[j].point.label(), measured[j])
    if mcu == "atmega328p":  # the table alone leaves room in the default 16 KB for a head
        assert "model_head(&go, features)" in emit_c(ens, target, "model")


@pytest.mark.parametrize("input_type, budget", [("float32", "18K"), ("float32", "20K"), ("int16", None)])
def test_grown_heads_agree_and_beat_uniform_ones(input_type, budget):
    """Digits 10x6 on the 328P at budgets between the uniform heads' steps, and with int16
    inputs (smaller head tests) at the default: the build takes a head grown per tree, which
    predicts as scikit-learn does, links within its estimate and the budget, and runs no
    slower on simavr than the fastest uniform head within the budget."""
    require_tool("avr-gcc", "simavr", "avr-size")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    bench = avr_bench()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    clf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(Xtr, ytr)
    ens = optimize(emlc.load(clf).replace(input_type=input_type), level="O2", target="atmega328p").ensemble
    flash_budget = FlashBudget() if budget is None else FlashBudget.parse(budget)
    choice = choose(ens, get_target("atmega328p"), None, speed=True, budget=flash_budget)
    uniform = min((c for c in choice.costs if c.point.layout is Layout.TABLE and not c.point.head_more
                   and c.flash <= choice.budget), key=lambda c: c.cycles)
    assert choice.chosen.point.head_more and choice.chosen.cycles < uniform.cycles
    in_t = "float" if input_type == "float32" else "int16_t"
    measured = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = bench.build_and_run("", "(int)x[0]", Xte, in_t, work, mcu="atmega328p")[1]
        for cost in (choice.chosen, uniform):
            code = emit_c(ens, "atmega328p", "model", point=cost.point)
            pred, flash, _, cycles = bench.build_and_run(code, "model_predict(x, 64)", Xte, in_t, work,
                                                         mcu="atmega328p")
            np.testing.assert_array_equal(np.asarray(ens.classes)[pred], clf.predict(Xte))
            assert flash - base <= cost.flash <= choice.budget, (cost.point.label(), flash - base, cost.flash)
            measured.append(cycles)
    assert measured[0] <= measured[1], measured
