"""Early exit in real MicroPython: the generated module and the emlc_trees runtime predict what
``interpret_early_exit`` predicts, row by row, for exact and lossy (confidence) exits."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.ir import interpret
from emlc.ir.interpret import interpret_early_exit, interpret_trees_evaluated
from emlc.passes.lossy import confidence_exit
from tests.backends.micropython.test_exit import _forest, _stacked, exit_ensembles
from tests.e2e.mpy import predict_batch, require_micropython
from tests.e2e.test_micropython_runtime import NO_SHRINK, RUNTIME, csv_case, module_case
from tests.strategies import inputs_for

MODELS_PER_RUN = 12


def _run(models: list, rows: list) -> None:
    """Each model as a module and as a CSV, all in one MicroPython run, checked row by row."""
    cases, files = [], dict(RUNTIME)
    for k, (ens, X) in enumerate(zip(models, rows)):
        for make, name in ((module_case, f"g{k}"), (csv_case, f"m{k}")):
            case, f = make(ens, X, name)
            cases.append(dict(case, proba=False))
            files.update(f)
    got = predict_batch(cases, files)
    for k, (ens, X) in enumerate(zip(models, rows)):
        want = interpret_early_exit(ens, X).tolist()
        for output, (preds, _) in zip(("module", "emlc CSV"), got[2 * k : 2 * k + 2]):
            assert preds == want, f"{output} differs from interpret_early_exit\n{ens}"


@settings(max_examples=2, deadline=None, phases=NO_SHRINK)
@given(st.data())
def test_random_exits_stop_like_the_interpreter(data):
    require_micropython()
    models = [data.draw(exit_ensembles()) for _ in range(MODELS_PER_RUN)]
    _run(models, [data.draw(inputs_for(ens)) for ens in models])


def test_forests_stop_early_and_check_in_the_accumulators_arithmetic():
    """Labelled forests with exits that do stop rows (and, lossy, change some classes), plus
    check points where float32 rounding or int64 exactness decides."""
    require_micropython()
    models, rows = [], []
    for threshold, batch in ((None, 1), (1.0, 2), (0.6, 1), (0.3, 2), (0.3, 1)):
        ens, X = _forest(threshold, batch)
        assert interpret_trees_evaluated(ens, X).min() < ens.n_trees
        models.append(ens)
        rows.append(X)
    assert interpret_early_exit(models[-1], rows[-1]).tolist() != interpret(models[-1], rows[-1]).tolist()
    big = 2.0**24
    f32 = _stacked([[big, big], [0.0, 2.0]], [1.0, 0.0], [0.0, 0.0], "float32")
    ints = [_stacked([[3, 0], [0, 5]], [2**60, 0], [0, 2**60 + d], "int64", leaf_dtype="int32", leaf_scale=np.ones(2))
            for d in (2, 3)]
    for ens in (f32, *ints):
        models.append(ens)
        rows.append(np.zeros((1, 1)))
    assert [interpret_early_exit(e, np.zeros((1, 1)))[0] for e in (f32, *ints)] == ["yes", "no", "yes"]
    binary, X = _boosted_binary()
    models.append(binary)
    rows.append(X)
    _run(models, rows)


def _boosted_binary():
    """A one-output boosted model (sigmoid margin), where a check compares one sum with 0."""
    import emlc
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True)
    gb = GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0).fit(X, y)
    ens = confidence_exit(emlc.load(gb), 0.3)
    assert ens.n_outputs == 1 and interpret_trees_evaluated(ens, X[:80]).min() < ens.n_trees
    return ens, X[:80]
