"""Early exit in the MicroPython outputs, on the host: the generated module and the emlc_trees
runtime (both plain Python, run here by CPython) stop where a lossy ``interpret_early_exit``
stops, with its class; exact exits are left out (every tree evaluated, same predictions),
and the emlearn CSV refuses lossy ones."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emlc
import emlc.backends.micropython.emit as mp
from emlc.backends.micropython import emit_csv, emit_micropython
from emlc.backends.micropython.emlc_csv import emit_emlc_csv
from emlc.backends.micropython.emlearn_csv import emit_emlearn_csv
from emlc.errors import EmlcError
from emlc.ir import Aggregation, Decision, EarlyExit, Ensemble, Op, Task, Tree, interpret
from emlc.ir.interpret import interpret_early_exit, interpret_trees_evaluated
from emlc.passes import PASSES
from emlc.passes.lossy import confidence_exit
from emlc.paths import runtime_dir
from tests.strategies import ensembles, inputs_for

sys.path.insert(0, str(runtime_dir() / "micropython"))
import emlc_trees  # noqa: E402  (the device runtime, plain Python)

EXITS = ("exact", 1.0, 0.8, 0.6, 0.45, 0.3)  # mostly lossy: the exits the outputs keep


@st.composite
def exit_ensembles(draw, **kwargs) -> Ensemble:
    """A random classifier with the exact early exit or a confidence exit (batch 1 or 2)."""
    ens = draw(ensembles(categorical=False, tasks=(Task.CLASSIFICATION,), **kwargs))
    how = draw(st.sampled_from(EXITS))
    if how == "exact":
        return PASSES["early_exit"](ens)
    try:
        return confidence_exit(ens, how, draw(st.sampled_from([1, 2])))
    except EmlcError:  # several leaf scales, or a decision it cannot bound
        return PASSES["early_exit"](ens)


def _module(ens: Ensemble, chunk_lines: int = 3000, chain: int = 16) -> dict:
    old = mp._CHUNK_LINES, mp._CHAIN_OUTPUTS
    mp._CHUNK_LINES, mp._CHAIN_OUTPUTS = chunk_lines, chain
    try:
        src = emit_micropython(ens)
    finally:
        mp._CHUNK_LINES, mp._CHAIN_OUTPUTS = old
    namespace: dict = {}
    exec(compile(src, "m.py", "exec"), namespace)
    return namespace


def _runtime(ens: Ensemble):
    return emlc_trees.load(io.StringIO(emit_emlc_csv(ens)))


@settings(max_examples=60, deadline=None)
@given(exit_ensembles(), st.sampled_from([(3000, 16), (1, 16), (3000, 0), (1, 0)]), st.data())
def test_module_predict_stops_like_the_interpreter(ens, limits, data):
    """Inline or chunked, chained or helper-found winner: the class is interpret_early_exit's, row by row."""
    X = data.draw(inputs_for(ens))
    predict = _module(ens, *limits)["predict"]
    assert [predict(r) for r in X.tolist()] == interpret_early_exit(ens, X).tolist()


@settings(max_examples=60, deadline=None)
@given(exit_ensembles(), st.data())
def test_runtime_predict_stops_like_the_interpreter(ens, data):
    X = data.draw(inputs_for(ens))
    model = _runtime(ens)
    assert [model.predict(r) for r in X.tolist()] == interpret_early_exit(ens, X).tolist()


def _forest(threshold: float | None, batch: int = 1) -> tuple[Ensemble, np.ndarray]:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    rf = RandomForestClassifier(n_estimators=12, max_depth=4, random_state=0).fit(X, np.array(["a", "b", "c"])[y])
    ens = emlc.load(rf)
    ens = PASSES["early_exit"](ens) if threshold is None else confidence_exit(ens, threshold, batch)
    return ens, X


def test_exact_exits_are_left_out():
    """They never change a prediction and cost more than they save in MicroPython: the outputs
    are the ones without the exit (integer class scores included), version 1 CSV."""
    for threshold in (None, 1.0):
        ens, X = _forest(threshold)
        assert ens.early_exit is not None and interpret_trees_evaluated(ens, X).min() < ens.n_trees
        bare = ens.replace(early_exit=None)
        assert emit_micropython(ens) == emit_micropython(bare)
        assert emit_emlc_csv(ens) == emit_emlc_csv(bare) and emit_emlc_csv(ens).startswith("emlc-trees,1\n")


@pytest.mark.parametrize("threshold, batch", [(0.3, 1), (0.6, 2)])
def test_both_outputs_evaluate_only_the_trees_the_interpreter_counts(threshold, batch):
    """One tree per chunk function counts the module's trees; the runtime's walk counts its own."""
    ens, X = _forest(threshold, batch)
    want = interpret_trees_evaluated(ens, X)
    assert want.min() < ens.n_trees  # the check points do stop rows

    namespace = _module(ens, chunk_lines=1)
    calls = []
    namespace["_XCHUNKS"] = tuple(
        (lambda f, a, c=c: calls.append(1) or c(f, a)) for c in namespace["_XCHUNKS"])
    model = _runtime(ens)
    walked = []
    walk = emlc_trees._walk
    emlc_trees._walk = lambda *args: walked.append(args[-1] - args[-2]) or walk(*args)
    try:
        for row, n in zip(X.tolist(), want.tolist()):
            calls.clear()
            walked.clear()
            assert namespace["predict"](row) == model.predict(row)
            assert len(calls) == n and sum(walked) == n
    finally:
        emlc_trees._walk = walk
    labels = interpret_early_exit(ens, X).tolist()
    assert [namespace["predict"](r) for r in X.tolist()] == labels
    if threshold == 0.3:
        assert labels != interpret(ens, X).tolist()  # the lossy exit shows in the predictions


def _stacked(rows: list[list[float]], lower, upper, dtype: str, **changes) -> Ensemble:
    """Single-leaf trees (tree i adds ``rows[i]``) with one check point after the first tree."""
    leaf = lambda i: Tree.build(op=[Op.LEAF], feature=[-1], threshold=[0], left=[-1], right=[-1], leaf=[i])
    leaves = np.array(rows, dtype=changes.pop("leaf_dtype", dtype))
    base = dict(
        n_features=1, task=Task.CLASSIFICATION, trees=tuple(leaf(i) for i in range(len(rows))),
        tree_output=np.zeros(len(rows), np.int32), leaves=leaves, n_outputs=leaves.shape[1],
        aggregation=Aggregation.SUM, decision=Decision.RAW_ARGMAX, classes=np.array(["no", "yes"]),
        accum_dtype=dtype if dtype.startswith("float") else "float64", base_score=np.zeros(leaves.shape[1]),
        early_exit=EarlyExit(np.array([1], np.int32), np.array([lower], dtype=changes.pop("bound_dtype", dtype)),
                             np.array([upper], dtype=changes.pop("upper_dtype", dtype)), confidence=0.5),
    )
    base.update(changes)
    return Ensemble(**base)


def test_float32_checks_round_like_the_interpreter():
    """2**24 + 1 rounds to 2**24 in float32: the check's lead vanishes and no row stops there."""
    big = 2.0**24
    ens = _stacked([[big, big], [0.0, 2.0]], [1.0, 0.0], [0.0, 0.0], "float32")
    X = np.zeros((1, 1))
    assert interpret_early_exit(ens, X).tolist() == ["yes"] == interpret(ens, X).tolist()
    doubled = ens.replace(accum_dtype="float64", leaves=ens.leaves.astype(np.float64), early_exit=EarlyExit(
        ens.early_exit.checkpoints, ens.early_exit.lower.astype(np.float64), ens.early_exit.upper.astype(np.float64),
        0.5))
    assert interpret_early_exit(doubled, X).tolist() == ["no"]  # in float64 the lead is 1 and the row stops
    for model in (ens, doubled):
        want = interpret_early_exit(model, X).tolist()
        assert [_module(model)["predict"]([0.0])] == want == [_runtime(model).predict([0.0])]


def test_integer_sums_check_exactly_with_wide_bounds():
    """Integer leaf tables: exact sums and int64 bounds, where float64 would lose the last units."""
    big = 2**60
    X = np.zeros((1, 1))
    for lead_upper, want in ((big + 2, ["no"]), (big + 3, ["yes"])):
        # after tree 0 the sums are [3, 0]: class 0 stops iff 3 + 2**60 > 0 + lead_upper
        ens = _stacked([[3, 0], [0, 5]], [big, 0], [0, lead_upper], "int64", leaf_dtype="int32",
                       leaf_scale=np.ones(2))
        assert interpret_early_exit(ens, X).tolist() == want
        assert [_module(ens)["predict"]([0.0])] == want == [_runtime(ens).predict([0.0])]


def test_emlc_csv_records_and_versions():
    ens, _ = _forest(0.6, 2)
    lines = emit_emlc_csv(ens).splitlines()
    assert lines[0] == "emlc-trees,2"
    at = [i for i, line in enumerate(lines) if line.startswith("P,")]
    ee = ens.early_exit
    assert lines[at[0]] == f"P,{len(ee.checkpoints)},d"
    first = lines[at[0] + 1].split(",")
    assert int(first[1]) == ee.checkpoints[0] and len(first) == 2 + 2 * ens.n_outputs
    assert [float(v) for v in first[2:]] == [*ee.lower[0].tolist(), *ee.upper[0].tolist()]
    assert emit_emlc_csv(ens.replace(early_exit=None)).splitlines()[0] == "emlc-trees,1"


def test_emlearn_csv_drops_exact_exits_and_refuses_lossy_ones():
    from tests.backends.micropython.test_emit import _stump

    stump = _stump(trees=_stump().trees * 3, tree_output=np.zeros(3, np.int32))
    exact = confidence_exit(stump, 1.0)
    assert exact.early_exit is not None
    assert emit_emlearn_csv(exact) == emit_emlearn_csv(exact.replace(early_exit=None))
    lossy = confidence_exit(stump, 0.5)
    with pytest.raises(EmlcError, match="lossy early exit") as err:
        emit_emlearn_csv(lossy)
    assert "--csv-flavor emlc" in str(err.value)
    assert emit_csv(lossy) == emit_emlc_csv(lossy)  # auto: the format that keeps the exit


def test_vote_models_drop_exact_exits_and_refuse_lossy_ones():
    from tests.backends.micropython.test_emit import _stump

    stump = _stump(trees=_stump().trees * 3, tree_output=np.zeros(3, np.int32), input_type="float32")
    bounds = np.zeros((1, 2))  # float64, as a vote's sums are not
    exact = stump.replace(early_exit=EarlyExit(np.array([1], np.int32), bounds, bounds, 1.0))
    assert emit_micropython(exact) == emit_micropython(stump)
    assert emit_emlc_csv(exact) == emit_emlc_csv(stump)
    lossy = stump.replace(early_exit=EarlyExit(np.array([1], np.int32), bounds, bounds, 0.5))
    for emit in (emit_micropython, emit_emlc_csv):
        with pytest.raises(EmlcError, match="confidence_exit"):
            emit(lossy)
