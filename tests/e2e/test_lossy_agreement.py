"""Lossy builds are new models that every backend runs exactly: on the lossy IR of a
clustered digits forest and a quantized boosted model, the JIT, host C, AVR C (simavr)
and MicroPython predict what the interpreter does on every row."""

from __future__ import annotations

import numpy as np
import pytest

import emlc
from emlc.backends.micropython import emit_micropython
from emlc.ir.interpret import interpret
from emlc.passes.lossy.apply import LossySettings, compress_leaves
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, run_parallel
from tests.e2e.mpy import predict_batch, require_micropython, rows_text


@pytest.fixture(scope="module")
def lossy_builds():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    from emlc.frontends.sklearn import from_sklearn

    X, y = load_digits(return_X_y=True)
    forest = from_sklearn(RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0).fit(X[:900], y[:900]))
    boosted = from_sklearn(GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X[:900], y[:900]))
    builds = [compress_leaves(forest, LossySettings(leaves_per_class=2), X=X[900:1300], level="O2", target="avr"),
              compress_leaves(boosted, LossySettings(leaf_bits=4), level="Os", target="avr")]
    return builds, X[1300:1380].astype(np.float32)


def test_jit_host_and_avr_equal_the_interpreter(lossy_builds):
    require_tool(*TOOLS["host"], *TOOLS["avr"])
    builds, X = lossy_builds
    jobs, want = [], []
    for ens, layout in builds:
        want.append(interpret(ens, X))
        np.testing.assert_array_equal(emlc.jit(ens).predict(X), want[-1])
        jobs += [(ens, X, "host", layout), (ens, X[:40], "avr", layout)]
    got = run_parallel(jobs, workers=2)
    for k, w in enumerate(want):
        np.testing.assert_array_equal(got[2 * k].predict, w)
        np.testing.assert_array_equal(got[2 * k + 1].predict, w[:40])


def test_micropython_equals_the_interpreter(lossy_builds):
    require_micropython()
    builds, X = lossy_builds
    files = {f"m{k}.py": emit_micropython(ens, name=f"m{k}") for k, (ens, _) in enumerate(builds)}
    cases = [{"setup": f"import m{k} as model", "rows": rows_text(X), "integer": False, "proba": False}
             for k in range(len(builds))]
    for (ens, _), (preds, _) in zip(builds, predict_batch(cases, files)):
        np.testing.assert_array_equal(np.asarray(preds), interpret(ens, X))
