"""The 32-bit cores' speed paths in qemu, against the interpreter: inline leaves adding
int32 sums in code (Target.leaf_sums_speed, the budget's choice) and float tests in the
FPU (Target.fpu_tests, Cortex-M4F)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c
from emlc.cost import Layout, Point
from emlc.ir import Task
from emlc.ir.interpret import interpret
from emlc.targets import get_target
from tests.backends.c.test_soft64 import ROWS, complementary_forest
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, declare_for_target, run_model
from tests.strategies import class_indices, ensembles, inputs_for

SUMS = Point(Layout.INLINE, leaf_sums=True)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(["cortex-m0", "cortex-m4f", "rv32ec"]))
def test_leaf_sums_in_code_predict_what_the_interpreter_does(data, target):
    """Random classifiers with the inline walk's leaves adding int32 sums where they have
    fixed-point sums (votes count otherwise), rows with NaN, signed zeros, infinities and
    values on the thresholds; on Cortex-M4F its tests compare the floats in the FPU."""
    require_tool(*TOOLS[target])
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,)))
    X = data.draw(inputs_for(ens))
    got = run_model(ens, X, target, name="m", point=SUMS).predict
    np.testing.assert_array_equal(got, class_indices(ens, interpret(ens, X)))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fpu_tests_predict_what_the_interpreter_does(data):
    """Cortex-M4F's float tests in the FPU at its default speed build (random classifiers:
    a test sending a row the wrong way shows as a class, not as a rounding)."""
    require_tool(*TOOLS["cortex-m4f"])
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_inputs=False, categorical=False))
    ens = declare_for_target(ens, get_target("cortex-m4f"), None)
    assert "_BITS(" not in emit_c(ens, "cortex-m4f", "m", "inline") and ens.input_type == "float32"
    X = data.draw(inputs_for(ens))
    got = run_model(ens, X, "cortex-m4f", "inline", name="m").predict
    np.testing.assert_array_equal(got, class_indices(ens, interpret(ens, X)))


@pytest.mark.parametrize("target", ["cortex-m0", "rv32ec"])
def test_leaf_sums_hand_their_sums_to_the_binary64_step(target):
    """A float64 tie the fixed-point sums leave undecided: P_rows hands its sums to the
    binary64 step (no float tier where double is software), which decides as float64."""
    require_tool(*TOOLS[target])
    ens = complementary_forest()
    code = emit_c(ens, target, "m", point=SUMS)
    assert "m_rows(features, rows, q)" in code and "m_soft(" in code and "q0 +=" in code
    np.testing.assert_array_equal(run_model(ens, ROWS, target, name="m", point=SUMS).predict, interpret(ens, ROWS))


def test_fpu_tests_compare_floats_only_on_the_fpu_target():
    """Cortex-M4F compares the float, and its header says what that assumes; the cores
    without an FPU compare its bits."""
    ens = complementary_forest()
    code = emit_c(ens, "cortex-m4f", "m", "inline")
    assert "features[0] <= 0.0f" in code and "FPSCR.FZ" in code
    for target in ("cortex-m0", "rv32ec"):
        code = emit_c(ens, target, "m", "inline")
        assert "M_BITS(0) <=" in code and "FPSCR" not in code
