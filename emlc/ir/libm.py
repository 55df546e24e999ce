"""The C library's ``exp`` and ``expf`` over numpy arrays.

LightGBM, XGBoost and SciPy's ``expit`` call the C library's exp one value at a time;
numpy's ``np.exp`` is its own SIMD code, which differs from it in the last bit on a few
percent of values. The libraries are loaded into this process, so calling the same
symbols here gives their exact results. Each distinct value is computed once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable

import numpy as np

_LIB = ctypes.CDLL(ctypes.util.find_library("m") or ctypes.util.find_library("c"))


def _bind(name: str, c_type: type) -> Callable[[float], float]:
    fn = getattr(_LIB, name)
    fn.restype = c_type
    fn.argtypes = [c_type]
    return fn


_EXP = _bind("exp", ctypes.c_double)
_EXPF = _bind("expf", ctypes.c_float)


def _each(fn: Callable[[float], float], x: np.ndarray, dtype: type) -> np.ndarray:
    x = np.asarray(x, dtype=dtype)
    values, where = np.unique(x.ravel(), return_inverse=True)
    out = np.fromiter((fn(v) for v in values.tolist()), dtype=dtype, count=values.size)
    return out[where].reshape(x.shape)


def exp(x: np.ndarray) -> np.ndarray:
    """C ``exp`` of every element, float64."""
    return _each(_EXP, x, np.float64)


def expf(x: np.ndarray) -> np.ndarray:
    """C ``expf`` of every element, float32."""
    return _each(_EXPF, x, np.float32)
