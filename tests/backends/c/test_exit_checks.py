"""Early exit in C: predict equals ``interpret_early_exit`` (exact and lossy), host and AVR."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c
from emlc.backends.c.exit_checks import ExitMode, _fixed_bounds, _pays_off, band_bounds, fine_plan
from emlc.backends.c.model import Model
from emlc.ir import Aggregation, EarlyExit, Ensemble, Task
from emlc.ir.interpret import _running_sums, interpret, interpret_early_exit, interpret_trees_evaluated, leaf_indices
from emlc.passes import PASSES
from emlc.passes.lossy.confidence_exit import confidence_exit
from emlc.targets import get_target
from tests.backends.c.test_emit import _forest
from tests.conftest import require_tool
from tests.e2e.harness import run_model, run_parallel
from tests.strategies import class_indices, ensembles, inputs_for, with_early_exit


@settings(max_examples=25)
@given(st.data(), st.sampled_from([None, 0.7, 0.3]), st.integers(1, 2))
def test_random_ir_stops_where_the_interpreter_does(data, threshold, batch):
    require_tool("gcc")
    ens = with_early_exit(data.draw(ensembles(tasks=(Task.CLASSIFICATION,))), threshold, batch)
    X = data.draw(inputs_for(ens))
    want = class_indices(ens, interpret_early_exit(ens, X))
    for layout in ("inline", "table"):
        # left out: integer checks that can never pass, exact checks costing more than they save
        if ens.leaves.dtype.kind == "f" and threshold is not None:
            assert "_exit(" in emit_c(ens, "host", "m", layout)
        np.testing.assert_array_equal(run_model(ens, X, "host", layout).predict, want)


def test_lossy_exit_changes_classes_and_c_follows():
    """At a low confidence some rows stop with another class than the full forest: C stops there too."""
    require_tool("gcc")
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = make_classification(n_samples=300, n_features=5, n_informative=4, n_redundant=0, n_classes=3,
                               random_state=0)
    forest = RandomForestClassifier(n_estimators=12, max_depth=4, random_state=0).fit(X, y)
    ens = confidence_exit(emlc.load(forest), 0.2)
    early, full = interpret_early_exit(ens, X), interpret(ens, X)
    assert (early != full).any() and interpret_trees_evaluated(ens, X).mean() < ens.n_trees
    for layout in ("inline", "table"):
        np.testing.assert_array_equal(run_model(ens, X, "host", layout).predict, early)


@settings(max_examples=4, deadline=None)
@given(st.data(), st.sampled_from([None, 0.4]))
def test_avr_float32_and_integer_sums_stop_where_the_interpreter_does(data, threshold):
    """On AVR float32 sums (and integer leaf sums) are the interpreter's: the ir check, exactly."""
    require_tool("avr-gcc", "simavr")
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), max_trees=5, max_depth=4))
    if ens.leaves.dtype.kind == "f":
        ens = ens.replace(accum_dtype="float32")
    ens = with_early_exit(ens, threshold, 1)
    X = data.draw(inputs_for(ens))
    want = class_indices(ens, interpret_early_exit(ens, X))
    code = emit_c(ens, "avr", "m", "table")
    assert "approx check" not in code and "fixed check" not in code
    results = run_parallel([(ens, X, "avr", "inline"), (ens, X, "avr", "table")], workers=2)
    for got in results:
        np.testing.assert_array_equal(got.predict, want)


def _fixed_decisions(ens: Ensemble, X, target: str) -> tuple[np.ndarray, set[int]]:
    """Replay of P_classify's fixed check at every IR check point: (class at the first
    deciding check point or -1, the check points where some row passes the check)."""
    model = Model(ens, get_target(target), "m")
    fx = model.fixed
    assert fx is not None
    cps = np.asarray(ens.early_exit.checkpoints)
    lower, upper = _fixed_bounds(ens, fx, cps)
    rows = leaf_indices(ens, X)
    q = np.tile(fx.init, (rows.shape[0], 1))
    cls = np.full(rows.shape[0], -1)
    fired: set[int] = set()
    w = ens.leaf_width
    for t in range(ens.n_trees):
        o = int(ens.tree_output[t])
        q[:, o : o + w] += fx.leaves[rows[:, t]]
        if t + 1 in cps:
            j = int(np.flatnonzero(cps == t + 1)[0])
            low, up = q + lower[j], q + upper[j]
            c = np.argmax(low, axis=1)
            beats = (low[np.arange(len(c)), c][:, None] > up) | (np.arange(q.shape[1])[None, :] == c[:, None])
            cls = np.where((cls < 0) & beats.all(axis=1), c, cls)
            if beats.all(axis=1).any():
                fired.add(t + 1)
    return cls, fired


@settings(max_examples=100)
@given(st.data())
def test_fixed_check_never_decides_another_class_than_the_interpreter(data):
    """The integer check AVR uses for float64 sums (exact exits): whenever it stops, the class is right."""
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False))
    ens = ens.replace(accum_dtype="float64")
    ens = PASSES["early_exit"](ens)
    assume(ens.early_exit is not None and Model(ens, get_target("avr"), "m").fixed is not None)
    X = data.draw(inputs_for(ens))
    cls, fired = _fixed_decisions(ens, X, "avr")
    want = class_indices(ens, interpret(ens, X))
    np.testing.assert_array_equal(cls[cls >= 0], want[cls >= 0])
    model = Model(ens, get_target("avr"), "m")
    kept = model.exit_plan()
    cps = np.asarray(ens.early_exit.checkpoints)
    worth = set(cps[_pays_off(ens, model.leaf_sums, model.lazy, cps)].tolist())
    # left out: checks that never pass, and checks costing more than the trees they could skip
    assert fired & worth <= set(() if kept is None else kept.checkpoints.tolist())


def test_avr_digits_forest_exits_early_on_fixed_point_sums():
    require_tool("avr-gcc", "simavr")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    # 16 trees: on fewer the table walk's checks would cost more than they save (cost.exact_exit_interval)
    ens = PASSES["early_exit"](emlc.load(RandomForestClassifier(n_estimators=16, max_depth=5, random_state=0)
                                         .fit(X[:600], y[:600])))
    rows = X[600:640]
    cls, _ = _fixed_decisions(ens, rows, "avr")
    assert (cls >= 0).mean() > 0.5  # most rows stop before the last tree
    code = emit_c(ens, "avr", "m", "table")
    assert "fixed check)" in code and "m_qadd(q" in code
    want = class_indices(ens, interpret(ens, rows))
    lossy = confidence_exit(ens, 0.5)
    assert "band check)" in emit_c(lossy, "avr", "m", "table")
    jobs = [(ens, rows, "avr", "inline"), (ens, rows, "avr", "table"), (lossy, rows, "avr", "table")]
    exact_inline, exact_table, band = run_parallel(jobs, workers=2)
    np.testing.assert_array_equal(exact_inline.predict, want)
    np.testing.assert_array_equal(exact_table.predict, want)
    # the lossy check on fixed-point sums decides the interpreter's float64 check exactly
    np.testing.assert_array_equal(band.predict, class_indices(lossy, interpret_early_exit(lossy, rows)))


@pytest.mark.parametrize("threshold", [0.5])
def test_lossy_float64_exit_on_avr_is_the_band_check_or_with_float32_sums_the_approximate_one(threshold):
    ens = confidence_exit(_forest(n_trees=6, width=3, aggregation=Aggregation.MEAN), threshold)
    code = emit_c(ens, "avr", "m", "table")
    assert "band check)" in code and "m_exit64(" in code and "check points may differ" not in code
    code = emit_c(ens, "avr", "m", "table", float32_sums=True)
    assert "approx check)" in code and "float64 near-ties at check points may differ" in code


def _band_replay(ens: Ensemble, fx, checkpoints, lower, upper, band, X) -> tuple[np.ndarray, np.ndarray]:
    """The C band check (P_exit's _band_decision) on the fixed-point sums of plan ``fx``
    at every check point, beside the interpreter's float64 check: (outcome [rows, checks]:
    class, -1 fails, -2 undecided; the interpreter's class or -1)."""
    rows = leaf_indices(ens, X)
    sums = [s.copy() for s in _running_sums(ens, rows)]
    q = np.tile(fx.init, (rows.shape[0], 1)).astype(np.int64)
    ee = ens.early_exit
    got, truth = [], []
    for t in range(ens.n_trees):
        o, w = int(ens.tree_output[t]), ens.leaf_width
        q[:, o : o + w] += fx.leaves[rows[:, t]]
        if t + 1 not in checkpoints:
            continue
        j = int(np.flatnonzero(checkpoints == t + 1)[0])
        ji = int(np.flatnonzero(np.asarray(ee.checkpoints) == t + 1)[0])
        out, want = [], []
        for r in range(rows.shape[0]):
            low, up, W = q[r] + lower[j], q[r] + upper[j], int(band[j])
            c = int(np.argmax(low))
            d = [int(low[c] - up[k]) for k in range(len(low)) if k != c]
            if min(d) >= -W:
                out.append(-2 if min(d) <= W else c)
            else:
                others = [k for k in range(len(low)) if k != c and low[k] >= up[c] - W]
                out.append(-2 if others else -1)
            a = sums[t + 1][r]
            lo64, hi64 = a + ee.lower[ji], a + ee.upper[ji]
            c64 = int(np.argmax(lo64))
            want.append(c64 if all(lo64[c64] > hi64[k] for k in range(len(a)) if k != c64) else -1)
        got.append(out)
        truth.append(want)
    return np.array(got).T, np.array(truth).T


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from([0.8, 0.5, 0.2]))
def test_band_check_never_decides_otherwise_than_the_interpreter(data, threshold):
    """Where the integer band check (16-bit sums, and the sums FINE times finer behind it)
    decides, it decides the interpreter's float64 check; the rest goes on to binary64."""
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False)).replace(accum_dtype="float64")
    ens = with_early_exit(ens, threshold)
    plan = Model(ens, get_target("avr"), "m").exit_plan()
    assume(plan is not None and plan.mode is ExitMode.BAND)
    fx = Model(ens, get_target("avr"), "m").fixed
    X = data.draw(inputs_for(ens))
    got, truth = _band_replay(ens, fx, plan.checkpoints, plan.lower, plan.upper, plan.band, X)
    decided = got != -2
    np.testing.assert_array_equal(got[decided], truth[decided])
    fine = fine_plan(ens, fx)
    ee = ens.early_exit
    at = np.searchsorted(np.asarray(ee.checkpoints), plan.checkpoints)
    t, u, w = band_bounds(ens, fine, plan.checkpoints, np.asarray(ee.lower)[at], np.asarray(ee.upper)[at])
    got, truth = _band_replay(ens, fine, plan.checkpoints, t, u, w, X)
    decided = got != -2
    np.testing.assert_array_equal(got[decided], truth[decided])


def _tied(ens: Ensemble, rows: np.ndarray, shift: int) -> Ensemble:
    """``ens`` with the last check point's upper bounds moved so that, for the first row
    reaching it, its runner-up is level with its leader in float64 (``shift`` 0: the check
    fails by a tie) or ``shift`` ulps below it (it passes), the other classes an ulp below:
    integer and fine sums cannot tell these apart, binary64 must."""
    ee = ens.early_exit
    j = len(ee.checkpoints) - 1
    k = int(ee.checkpoints[j])
    r = int(np.flatnonzero(interpret_trees_evaluated(ens, rows) > k)[0])
    a = [s.copy() for s in _running_sums(ens, leaf_indices(ens, rows[r : r + 1]))][k][0].astype(np.float64)
    upper = np.array(ee.upper, dtype=np.float64)
    low = a + ee.lower[j]
    c = int(np.argmax(low))
    runner = max((o for o in range(a.size) if o != c), key=lambda o: a[o] + upper[j, o])
    for o in range(a.size):
        if o == c or (o != runner and a[o] + upper[j, o] < low[c]):
            continue
        goal = low[c]
        for _ in range(shift if o == runner else 1):
            goal = np.nextafter(goal, -np.inf)
        h = goal - a[o]
        while a[o] + h < goal:
            h = np.nextafter(h, np.inf)
        while a[o] + h > goal:
            h = np.nextafter(h, -np.inf)
        assert a[o] + h == goal and h >= ee.lower[j, o]
        upper[j, o] = h
    return ens.replace(early_exit=EarlyExit(ee.checkpoints, ee.lower, upper, ee.confidence))


def test_avr_band_check_decides_float64_near_ties_in_binary64():
    """Check points tuned to exact float64 ties and one-ulp leads (bounds the IR allows): AVR
    stops where the interpreter does, on both layouts (inline: P_rows' checks)."""
    require_tool("avr-gcc", "simavr")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=6, max_depth=4, random_state=0).fit(X[:600], y[:600])
    ens = confidence_exit(emlc.load(forest), 0.5)
    rows = X[600:630]
    tie, lead = _tied(ens, rows, 0), _tied(ens, rows, 1)
    assert (interpret_trees_evaluated(tie, rows) != interpret_trees_evaluated(lead, rows)).any()
    code = emit_c(tie, "avr", "m", "table")
    assert "band check)" in code and "m_exit2(" in code and "m_exit64(" in code
    jobs = [(e, rows, "avr", layout) for e in (tie, lead) for layout in ("table", "inline")]
    for (e, *_), got in zip(jobs, run_parallel(jobs, workers=2)):
        np.testing.assert_array_equal(got.predict, class_indices(e, interpret_early_exit(e, rows)))


def test_avr_lossy_exit_without_fixed_point_checks_float_sums():
    """A one-output boosted model (no fixed-point path) with float64 sums on AVR: the lossy
    check runs on float sums; it stops early and agrees with the float64 interpreter here."""
    require_tool("avr-gcc", "simavr")
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    import emlc

    X, y = make_classification(n_samples=300, n_features=4, random_state=1)
    ens = confidence_exit(emlc.load(GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0)
                                    .fit(X, y)), 0.5)
    assert ens.accum_dtype == "float64" and ens.n_outputs == 1
    code = emit_c(ens, "avr", "m", "table")
    assert "approx check)" in code and "m_qadd" not in code
    rows = X[:40]
    assert interpret_trees_evaluated(ens, rows).mean() < ens.n_trees
    got = run_model(ens, rows, "avr", "table").predict
    np.testing.assert_array_equal(got, class_indices(ens, interpret_early_exit(ens, rows)))


def test_predict_and_predict_proba_share_one_walk():
    """With an exit checked on the running sums, the trees are emitted once (P_run): predict
    stops early through it, predict_proba runs it to the end; both equal the interpreter."""
    require_tool("gcc")
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    import emlc
    from emlc.ir.interpret import interpret_proba

    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    ens = PASSES["early_exit"](emlc.load(GradientBoostingClassifier(n_estimators=40, max_depth=3,
                                                                    random_state=0).fit(X, y)))
    code = emit_c(ens, "host", "m", "inline")
    assert code.count("/* tree 7 */") == 1 and "m_run(features, raw, 1)" in code and "m_run(features, raw, 0)" in code
    got = run_model(ens, X, "host", "inline")
    np.testing.assert_array_equal(got.predict, interpret_early_exit(ens, X))
    np.testing.assert_allclose(got.values, interpret_proba(ens, X).astype(np.float32), rtol=2e-6, atol=1e-7)


def test_avr_inline_leaf_sums_stop_where_the_interpreter_does():
    """AVR inline keeps the class sums in locals; its checks (a lossy exit here, so that rows
    do stop) test the lead in registers, then the bounds: classes equal interpret_early_exit."""
    require_tool("avr-gcc", "simavr")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X[:600], y[:600])
    ens = confidence_exit(PASSES["early_exit"](emlc.load(forest)), 0.4)
    rows = X[600:660]
    want = interpret_early_exit(ens, rows)
    assert interpret_trees_evaluated(ens, rows).mean() < ens.n_trees
    code = emit_c(ens, "avr", "m", "inline")
    assert "m_rows(features, rows, 1)" in code and "if (stop) {" in code
    np.testing.assert_array_equal(run_model(ens, rows, "avr", "inline").predict, want)


def test_avr_inline_leaf_sums_leave_out_exact_exits_for_the_byte_walk():
    """On AVR inline an exact exit's checks cost more than the trees they skip (the sums
    leave their registers for each check), so predict runs the byte-sum first walk instead;
    the table layout keeps its exit, and a lossy exit (it changes classes) is kept."""
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    ens = PASSES["early_exit"](emlc.load(RandomForestClassifier(n_estimators=20, max_depth=5,
                                                                random_state=0).fit(X, y)))
    assert ens.early_exit is not None
    cps = np.asarray(ens.early_exit.checkpoints)
    assert _pays_off(ens, False, False, cps).any()  # by the node-count rule
    assert not _pays_off(ens, True, False, cps).any()  # leaf sums
    # without the binary64 step's 5 KB: with it this forest's first walk passes half the flash
    inline = emit_c(ens, "avr", "m", "inline", float32_sums=True)
    assert "stops early" not in inline and "m_quick(features)" in inline
    assert "stops early" not in emit_c(ens, "avr", "m", "inline")
    assert "stops early" in emit_c(ens, "avr", "m", "table")
    assert "stops early" in emit_c(confidence_exit(ens, 0.5), "avr", "m", "inline")


def test_lossy_exit_left_out_where_its_tables_do_not_fit():
    """digits 30x6 on the ATmega328P (32 KB): the band check's tables would pass the flash,
    the build without them fits, so the lossy pipeline leaves the exit out (keeping -O2's
    exact one) and says why; on the 2560 it fits, and is left out for the leaf records
    its check would take away (plan.lossy_exit_note)."""
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc
    from emlc.passes.lossy.apply import apply_lossy

    X, y = load_digits(return_X_y=True)
    ens = emlc.load(RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0).fit(X[30:], y[30:]))
    small, report = apply_lossy(ens, early_exit=0.5, target="atmega328p", layout="table")
    assert small.early_exit is not None and small.early_exit.confidence == 1
    assert any("would not fit atmega328p's 32768 bytes" in n for n in report.notes)
    big, report = apply_lossy(ens, early_exit=0.5, target="avr", layout="table")
    assert big.early_exit.confidence == 1 and not any("would not fit" in n for n in report.notes)
    assert any("leaf records" in n for n in report.notes)
