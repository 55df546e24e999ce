"""The C library's ``exp`` and ``expf`` over numpy arrays.

LightGBM, XGBoost and SciPy's ``expit`` call the C library's exp one value at a time;
numpy's ``np.exp`` is its own SIMD code, which differs from it in the last bit on a few
percent of values. Those libraries are loaded into this process, so calling the same
symbols here gives their exact results. The loop over an array is a few lines of LLVM IR
compiled once per process (a ctypes call per value costs 3 µs; this costs 5 ns).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Callable

import numpy as np

_LOOP = """
declare {ty} @{fn}({ty}) nounwind
define void @each_{fn}(ptr %x, ptr %y, i64 %n) {{
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [0, %entry], [%next, %loop]
  %px = getelementptr inbounds {ty}, ptr %x, i64 %i
  %v = load {ty}, ptr %px
  %e = call {ty} @{fn}({ty} %v) nobuiltin
  %py = getelementptr inbounds {ty}, ptr %y, i64 %i
  store {ty} %e, ptr %py
  %next = add i64 %i, 1
  %more = icmp ult i64 %next, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}}
"""
_LOCK = threading.Lock()
_LOOPS: dict[str, Callable[[int, int, int], None]] = {}
_ENGINES: list[object] = []  # keep the machine code alive


def _loop(fn: str, ty: str) -> Callable[[int, int, int], None]:
    with _LOCK:
        if fn not in _LOOPS:
            import llvmlite.binding as llvm

            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            tm = llvm.Target.from_default_triple().create_target_machine(opt=0, jit=True)
            module = llvm.parse_assembly(_LOOP.format(fn=fn, ty=ty))
            engine = llvm.create_mcjit_compiler(module, tm)
            engine.finalize_object()
            _ENGINES.append(engine)
            kind = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
            _LOOPS[fn] = kind(engine.get_function_address(f"each_{fn}"))
        return _LOOPS[fn]


def _each(fn: str, ty: str, x: np.ndarray, dtype: type) -> np.ndarray:
    src = np.ascontiguousarray(x, dtype=dtype)
    out = np.empty_like(src)
    _loop(fn, ty)(src.ctypes.data, out.ctypes.data, src.size)
    return out


def exp(x: np.ndarray) -> np.ndarray:
    """C ``exp`` of every element, float64."""
    return _each("exp", "double", x, np.float64)


def expf(x: np.ndarray) -> np.ndarray:
    """C ``expf`` of every element, float32."""
    return _each("expf", "float", x, np.float32)
