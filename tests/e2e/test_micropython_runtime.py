"""The emlc_trees runtime and generated modules, run in real MicroPython, agree with the interpreter."""

from __future__ import annotations

import numpy as np
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from emlc.backends.micropython import emit_micropython
from emlc.backends.micropython.emlc_csv import emit_emlc_csv
from emlc.backends.micropython.emlearn_csv import emit_emlearn_csv
from emlc.errors import EmlcError
from emlc.ir import Link, Task, interpret, interpret_proba
from emlc.paths import runtime_dir
from tests.e2e.mpy import predict_batch, require_micropython, rows_text
from tests.strategies import ensembles, inputs_for

RUNTIME = {"emlc_trees.py": (runtime_dir() / "micropython" / "emlc_trees.py").read_text()}
MODELS_PER_RUN = 12
# each example is one MicroPython run over many models: shrinking would rerun it for minutes
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def assert_agrees(ens, X, got, emlearn: bool = False) -> None:
    """The device returns the IR's labels; ``emlearn``: that format has none, it returns class indices."""
    preds, probas = got
    want = interpret(ens, X)
    want_proba = interpret_proba(ens, X) if ens.task is Task.CLASSIFICATION else None
    if emlearn and ens.task is Task.CLASSIFICATION:
        index = {c: i for i, c in enumerate(np.asarray(ens.classes).tolist())}
        want = np.array([index[c] for c in want.tolist()])
    assert len(preds) == len(X)
    if ens.task is Task.REGRESSION or ens.task is Task.RANKING:
        # sums are bit-exact; only exp links may differ in the last bits (libm vs numpy)
        tol = 0 if ens.link is Link.IDENTITY else 1e-6
        np.testing.assert_allclose(np.asarray(preds, dtype=np.float64), want, rtol=tol, atol=tol * 1e-6)
    else:
        assert list(np.asarray(want).tolist()) == preds, f"predictions differ\n{ens}"
    if want_proba is not None:
        np.testing.assert_allclose(np.asarray(probas), want_proba, rtol=1e-5, atol=1e-7)


def _case(ens, X, setup: str) -> dict:
    """One model's job for the MicroPython driver: how to get ``model``, and its rows."""
    return {
        "setup": setup,
        "rows": rows_text(X),
        "integer": np.asarray(X).dtype.kind in "iu",
        "proba": ens.task is Task.CLASSIFICATION,
    }


def csv_case(ens, X, name: str) -> tuple[dict, dict]:
    case = _case(ens, X, f"import emlc_trees\nmodel = emlc_trees.load('{name}.csv')")
    return case, {f"{name}.csv": emit_emlc_csv(ens)}


def module_case(ens, X, name: str) -> tuple[dict, dict]:
    return _case(ens, X, f"import {name} as model"), {f"{name}.py": emit_micropython(ens, name=name)}


def _random_models_agree(data, make_case, prefix: str, files: dict) -> None:
    """Random models, each emitted by ``make_case``, run in one MicroPython process."""
    require_micropython()
    models = [data.draw(ensembles(categorical=False)) for _ in range(MODELS_PER_RUN)]
    rows = [data.draw(inputs_for(ens)) for ens in models]
    cases, files = [], dict(files)
    for k, (ens, X) in enumerate(zip(models, rows)):
        case, f = make_case(ens, X, f"{prefix}{k}")
        cases.append(case)
        files.update(f)
    for ens, X, got in zip(models, rows, predict_batch(cases, files)):
        assert_agrees(ens, X, got)


@settings(max_examples=3, deadline=None, phases=NO_SHRINK)
@given(st.data())
def test_emlc_csv_runtime_matches_interpreter(data):
    _random_models_agree(data, csv_case, "m", RUNTIME)


@settings(max_examples=3, deadline=None, phases=NO_SHRINK)
@given(st.data())
def test_generated_module_matches_interpreter(data):
    _random_models_agree(data, module_case, "g", {})


@settings(max_examples=3, deadline=None, phases=NO_SHRINK)
@given(st.data())
def test_emlearn_csv_matches_interpreter_when_it_is_emitted(data):
    """Every model the emlearn writer accepts predicts exactly; the rest are refused."""
    require_micropython()
    models = [
        data.draw(ensembles(categorical=False, ranks=False, tasks=(Task.CLASSIFICATION, Task.REGRESSION)))
        for _ in range(4 * MODELS_PER_RUN)
    ]
    cases, files, kept = [], dict(RUNTIME), []
    for k, ens in enumerate(models):
        if ens.task is Task.REGRESSION:  # a float32 forest, the regression emlearn can hold
            ens = ens.replace(accum_dtype="float32", leaves=ens.leaves.astype(np.float32),
                              aggregation=ens.aggregation.MEAN, base_score=np.zeros(1), link=Link.IDENTITY,
                              leaf_scale=None)
        try:
            text = emit_emlearn_csv(ens)
        except EmlcError:
            continue
        X = data.draw(inputs_for(ens))
        files[f"e{k}.csv"] = text
        cases.append(_case(ens, X, f"import emlc_trees\nmodel = emlc_trees.load('e{k}.csv')"))
        kept.append((ens, X))
    if not cases:
        return
    for (ens, X), got in zip(kept, predict_batch(cases, files)):
        assert_agrees(ens, X, got, emlearn=True)
