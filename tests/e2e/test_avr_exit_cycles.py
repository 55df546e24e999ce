"""``--early-exit`` is never slower than the same build without it (issue #16), on simavr's
cycle counts: deterministic, so this is not a timing test. The firmware is the AVR
benchmark's (bench/bench_avr_digits.py), so the test measures what the bench prints."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import pytest

from emlc.backends.c import emit_c
from emlc.ir.interpret import interpret_early_exit
from emlc.passes import optimize
from emlc.passes.lossy.apply import apply_lossy
from tests.conftest import require_tool

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_avr_digits.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_avr_digits", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("layout, trees, depth", [("inline", 10, 6), ("table", 10, 6), ("table", 20, 5)])
def test_lossy_exit_costs_no_cycles_on_avr_digits(layout, trees, depth):
    """digits RandomForests, ATmega2560, -O2 with and without ``--early-exit 0.5`` (as
    the command line builds it): no more cycles per prediction, and every class the
    interpreter's on the IR built. Both layouts leave it out of the IR and say so: inline
    keeps its leaf sums in registers, the table layout adds leaf records in assembly where
    the exit's band check would need the sparse leaf tables back (with them, 10x6 took
    4,131 cycles, the records without it 4,408, in 6.8 KB less flash; 20x5 7,513 against
    7,499)."""
    require_tool("avr-gcc", "simavr", "avr-size")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    import emlc

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    ens = emlc.load(RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=0).fit(Xtr, ytr))
    plain = optimize(ens, level="O2", target="avr", layout=layout).ensemble
    lossy, report = apply_lossy(ens, early_exit=0.5, level="O2", target="avr", layout=layout)
    assert report.layout == layout
    assert lossy.early_exit.confidence == 1 and any("early exit left out" in n for n in report.notes)
    if layout == "table":
        assert any("leaf records" in n for n in report.notes)
    run = _bench().build_and_run
    cycles = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ir in (("none", plain), ("exit", lossy)):
            pred, _, _, cycles[name] = run(emit_c(ir, "avr", "model", layout), "model_predict(x, 64)", Xte, "float",
                                           Path(tmp))
            np.testing.assert_array_equal(np.asarray(ens.classes)[pred], interpret_early_exit(ir, Xte))
    assert cycles["exit"] <= cycles["none"], cycles


@pytest.mark.parametrize("trees, depth", [(10, 6), (20, 5)])
def test_exact_exit_of_the_default_328p_build_costs_no_cycles(trees, depth):
    """-O2 on the ATmega328P at the default budget keeps the exact exit only where its
    checks save cycles (cost.exact_exit_interval): digits 10x6 leaves it out, 20x5 checks
    once, after tree 14, and runs faster than the same build without the exit."""
    require_tool("avr-gcc", "simavr", "avr-size")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    import emlc

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    clf = RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=0).fit(Xtr, ytr)
    ir = optimize(emlc.load(clf), level="O2", target="atmega328p").ensemble
    run = _bench().build_and_run
    codes = {"exit": emit_c(ir, "atmega328p", "model"), "none": emit_c(ir.replace(early_exit=None), "atmega328p", "model")}
    assert ("model_exit(" in codes["exit"]) == (trees == 20)
    cycles = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, code in codes.items():
            pred, _, _, cycles[name] = run(code, "model_predict(x, 64)", Xte, "float", Path(tmp), mcu="atmega328p")
            np.testing.assert_array_equal(pred, clf.predict(Xte))
    assert cycles["exit"] <= cycles["none"], cycles


def _boosted(library: str, rounds: int):
    """(model, held-out rows): one tree per class and round, 10 digits classes, depth 3."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    if library == "xgboost":
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=rounds, max_depth=3, random_state=0, n_jobs=1)
    else:
        from sklearn.ensemble import GradientBoostingClassifier

        model = GradientBoostingClassifier(n_estimators=rounds, max_depth=3, random_state=0)
    return model.fit(Xtr, ytr), Xte


@pytest.mark.parametrize("library, rounds, saves", [("xgboost", 5, 0.95), ("xgboost", 10, 0.85),
                                                    ("sklearn", 10, 0.9)])
def test_exact_exit_of_a_boosted_328p_build_costs_no_cycles(library, rounds, saves):
    """One tree per class, -O2 on the ATmega328P at the default budget: the cycle model's
    estimate of the point taken (cost._FLOAT_SUM_TREE: soft-float sums) is within 10% of
    simavr's count of it, and the exact exit, its float-sum checks spaced by the rows they
    stop (cost.round_stop_shares), runs faster than the same build without it, every class
    the library's (simavr: XGBoost 5 rounds 12,552 cycles against 13,783, where checking
    every round took 15,262; 10 rounds 22,405 against 28,582; scikit-learn 10 rounds 24,099
    against 28,542, where checking every second round took 28,862)."""
    require_tool("avr-gcc", "simavr", "avr-size")
    import emlc
    from emlc.api import declare_for_target
    from emlc.backends.c import choose
    from emlc.targets import get_target

    model, Xte = _boosted(library, rounds)
    target = get_target("atmega328p")
    ir = optimize(declare_for_target(emlc.load(model), target, None), level="O2", target=target).ensemble
    none = ir.replace(early_exit=None)
    estimate = choose(none, target, None, speed=True).chosen.cycles
    run = _bench().build_and_run
    codes = {"exit": emit_c(ir, target, "model"), "none": emit_c(none, target, "model")}
    assert "model_exit(" in codes["exit"]
    cycles = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, code in codes.items():
            pred, _, _, cycles[name] = run(code, "model_predict(x, 64)", Xte, "float", Path(tmp), mcu="atmega328p")
            np.testing.assert_array_equal(np.asarray(ir.classes)[pred], model.predict(Xte))
    assert cycles["exit"] < saves * cycles["none"], cycles
    assert abs(estimate / cycles["none"] - 1) <= 0.1, (estimate, cycles)
