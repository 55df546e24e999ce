"""LLVM links are the library's to the last bit. emlc.jit's predict_proba / predict take
the margins from the compiled code and the interpreter's link rule; a host object file's
C API runs the same steps in LLVM IR with the C library's exp (its float ``out`` rounds
float64 outputs, which the test rounds alike)."""

from __future__ import annotations

import ctypes
import subprocess
from dataclasses import replace

import numpy as np
import pytest

import emlc
from emlc.backends.llvm import emit_obj, jit
from emlc.ir import Link, LinkMath, Task
from emlc.ir.interpret import interpret, interpret_proba
from tests.conftest import require_tool
from tests.link_cases import cases, ids


@pytest.mark.parametrize("case", cases(), ids=ids())
def test_jit_equals_library_bit_for_bit(case):
    p = jit(case.model, cache_dir=False)
    got = p.predict_proba(case.X) if case.proba else p.predict(case.X)
    assert got.dtype == case.expected.dtype
    assert np.array_equal(got, case.expected, equal_nan=True)


#: the scaled models (margins from near 0 to past exp's overflow): one compile each is enough
_EXTREME = [c for c in cases() if c.name.endswith(("x40", "x400"))]


@pytest.mark.parametrize("case", _EXTREME, ids=[c.name for c in _EXTREME])
def test_host_object_link_equals_library(case, tmp_path):
    require_tool("gcc")
    ens = emlc.load(case.model)
    (tmp_path / "m.o").write_bytes(emit_obj(ens, "host", "m"))
    subprocess.run(["gcc", "-shared", "-o", str(tmp_path / "m.so"), str(tmp_path / "m.o"), "-lm"], check=True)
    lib = ctypes.CDLL(str(tmp_path / "m.so"))
    values = lib.m_predict_proba if ens.task is Task.CLASSIFICATION else lib.m_predict_values
    X = np.ascontiguousarray(case.X.astype(ens.input_type))
    expected = case.expected.reshape(len(X), -1)
    out = np.zeros(expected.shape[1], np.float32)
    got = []
    for row in X:
        values(row.ctypes.data_as(ctypes.c_void_p), ens.n_features, out.ctypes.data_as(ctypes.c_void_p), out.size)
        got.append(out.copy())
    if ens.link_math is LinkMath.NUMPY and ens.link is not Link.IDENTITY:  # numpy's exp is not C's
        libm = replace(ens, link_math=LinkMath.LIBM)
        expected = (interpret_proba(libm, X) if case.proba else interpret(libm, X)).reshape(expected.shape)
    with np.errstate(over="ignore"):
        assert np.array_equal(np.array(got), expected.astype(np.float32), equal_nan=True)
