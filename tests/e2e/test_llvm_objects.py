"""LLVM object files on every target, linked into the C backend's test harness and run
in the simulators; row-by-row agreement with the reference interpreter.

The harness builds a program around a C header; here the header only declares the C
API and the link step also takes the LLVM object (``harness.build(objects=...)``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

import emlc
from emlc.backends.llvm import emit_obj
from emlc.ir import Task
from emlc.ir.interpret import (
    interpret,
    interpret_early_exit,
    interpret_proba,
    interpret_trees_evaluated,
    interpret_value,
)
from emlc.passes.lossy.confidence_exit import confidence_exit
from emlc.targets import get_target
from tests.conftest import require_tool
from tests.e2e import harness

TARGETS = ["host", "avr", "cortex-m0", "cortex-m4f", "rv32ec"]


def _models():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.7)
    clf = emlc.load(RandomForestClassifier(n_estimators=4, max_depth=4, random_state=0).fit(X, y))
    reg = emlc.load(GradientBoostingRegressor(n_estimators=6, max_depth=3, random_state=0).fit(X, X[:, 0] * 2))
    Xt = rng.normal(size=(12, 4)).astype(np.float32)
    Xt[0, 0] = np.nan
    # float32 sums, as microcontrollers run them; the interpreter follows the IR's choice
    return [m.replace(accum_dtype="float32") for m in (clf, reg)], Xt


def _header(ens, target: str, name: str) -> str:
    tgt = get_target(target)
    in_t = "double" if ens.input_type == "float64" else "float"
    ret = "int32_t" if ens.task in (Task.CLASSIFICATION, Task.ANOMALY) else "float"
    fn = "predict_proba" if ens.task is Task.CLASSIFICATION else "predict_values"
    inc = f"#include <{tgt.flash.include}>\n" if tgt.flash.include else ""
    return (f"#include <stdint.h>\n{inc}{ret} {name}_predict(const {in_t} *features, int32_t n_features);\n"
            f"int32_t {name}_{fn}(const {in_t} *features, int32_t n_features, float *out, int32_t n_out);\n")


def _run_with_object(ens, X, target: str) -> harness.Result:
    name = "m"
    with tempfile.TemporaryDirectory(prefix=f"emlc-llvm-{target}-") as tmp:
        work = Path(tmp)
        obj = work / "model_llvm.o"
        obj.write_bytes(emit_obj(ens, target, name))
        main = harness.program(ens, _header(ens, target, name), X, target, name)
        exe = harness.build(target, main, work, objects=(obj,))
        return harness.parse(ens, harness.execute(target, exe), X.shape[0])


@pytest.mark.parametrize("target", TARGETS)
def test_llvm_object_runs_on_target(target):
    require_tool(*harness.TOOLS[target])
    models, X = _models()
    for ens in models:
        got = _run_with_object(ens, X, target)
        if ens.task is Task.CLASSIFICATION:
            want_idx = np.searchsorted(ens.classes, interpret(ens, X))
            assert np.array_equal(got.predict, want_idx)
            np.testing.assert_allclose(got.values, interpret_proba(ens, X), rtol=1e-5, atol=1e-6)
        else:
            want = interpret_value(ens, X).astype(np.float32)
            np.testing.assert_allclose(got.predict, want[:, 0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(got.values, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("target,accum", [("cortex-m0", "float64"), ("avr", "float32"), ("avr", "float64")])
def test_llvm_object_predict_exits_early_on_target(target, accum):
    """Exact and lossy confidence exits: predict on the device stops where the interpreter does,
    row by row: float64 soft-float sums on the M0, float32 sums on AVR (exact), and float64
    on AVR, summed and checked in float there (approximate, but these rows have no near-tie)."""
    require_tool(*harness.TOOLS[target])
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.3)
    forest = emlc.load(RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0).fit(X, y))
    Xt = rng.normal(size=(40, 4)).astype(np.float32)
    Xt[0, 0] = np.nan
    for threshold in (1.0, 0.3):
        ens = confidence_exit(forest.replace(accum_dtype=accum), threshold)
        early = interpret_early_exit(ens, Xt)
        assert (interpret_trees_evaluated(ens, Xt) < ens.n_trees).any()
        if threshold < 1:
            assert (early != interpret(ens, Xt)).any()
        got = _run_with_object(ens, Xt, target)
        np.testing.assert_array_equal(got.predict, np.searchsorted(ens.classes, early))
        np.testing.assert_allclose(got.values, interpret_proba(ens, Xt), rtol=1e-5, atol=1e-6)
