"""The build points the speed levels choose from (emlc/backends/c/points.py), linked and
run on simavr's ATmega2560: each predicts every digits row as scikit-learn does, the cost
model ranks their cycles as the simulator counts them (deterministic counts, so this is
not a timing test), and its flash estimates are never below the linked size."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import emlc
from emlc.backends.c import choose, emit_c
from emlc.passes import optimize
from emlc.targets import get_target
from tests.conftest import require_tool
from tests.e2e.harness import avr_bench


def test_points_rank_and_fit_as_estimated():
    require_tool("avr-gcc", "simavr", "avr-size")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    bench = avr_bench()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    clf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(Xtr, ytr)
    ens = optimize(emlc.load(clf), level="O2", target="avr").ensemble
    choice = choose(ens, get_target("avr"), None, speed=True)
    costs = [c for c in choice.costs if not c.point.head]  # heads: test_avr_table_heads
    assert len(costs) == 10 and choice.chosen is costs[0]
    measured = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = bench.build_and_run("", "(int)x[0]", Xte, "float", work)[1]
        for cost in costs:
            code = emit_c(ens, "avr", "model", point=cost.point)
            pred, flash, _, cycles = bench.build_and_run(code, "model_predict(x, 64)", Xte, "float", work)
            np.testing.assert_array_equal(pred, clf.predict(Xte))
            assert flash - base <= cost.flash, (cost.point.label(), flash - base, cost.flash)
            measured.append(cycles)
    estimated = [c.cycles for c in costs]
    assert np.argsort(measured).tolist() == np.argsort(estimated).tolist(), (measured, estimated)
    assert sorted(measured) == measured  # fastest first, as the speed levels try them


def test_integer_table_walk_ranks_as_measured_on_the_328p():
    """On the ATmega328P the -O2 digits build is the table walk; with int16 features it
    walks integer records (one compare a node, walk_halves). Each build predicts every row
    as scikit-learn does, the cost model puts the int16 build under the float one as the
    simulator counts them, and its flash estimate is never below the linked size."""
    require_tool("avr-gcc", "simavr", "avr-size")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    from emlc.backends.c import size_report

    bench = avr_bench()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    clf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(Xtr, ytr)
    target = get_target("atmega328p")
    estimated, measured = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for input_type, in_t in (("float32", "float"), ("int16", "int16_t")):
            res = optimize(emlc.load(clf).replace(input_type=input_type), level="O2", target=target)
            code = emit_c(res.ensemble, target, "model", res.layout)
            assert res.layout == "table" and "model_nodes" in code and "model_skip(" in code
            base = bench.build_and_run("", "(int)x[0]", Xte, in_t, work, mcu="atmega328p")[1]
            pred, flash, _, cycles = bench.build_and_run(code, "model_predict(x, 64)", Xte, in_t, work,
                                                         mcu="atmega328p")
            np.testing.assert_array_equal(np.asarray(clf.classes_)[pred], clf.predict(Xte), err_msg=input_type)
            assert flash - base <= size_report(res.ensemble, target, "table")["flash_bytes_estimate"]
            choice = choose(res.ensemble, target, None, speed=True)
            assert choice.chosen.point.layout.value == "table"
            estimated.append(choice.chosen.cycles)
            measured.append(cycles)
    assert estimated[1] < estimated[0] and measured[1] < measured[0], (estimated, measured)
