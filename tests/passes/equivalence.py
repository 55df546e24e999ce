"""Bit-for-bit comparison of two ensembles' interpreter results, shared by the pass tests."""

from __future__ import annotations

import numpy as np

from emlc.ir import Task, interpret, interpret_proba, interpret_raw


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def assert_same_results(before, after, X) -> None:
    """Predictions, raw margins and probabilities identical, dtypes and bits included."""
    raw_a, raw_b = interpret_raw(before, X), interpret_raw(after, X)
    assert raw_a.dtype == raw_b.dtype and raw_a.shape == raw_b.shape
    assert _bits(raw_a) == _bits(raw_b), "raw margins differ"
    pa, pb = interpret(before, X), interpret(after, X)
    assert pa.dtype == pb.dtype and np.array_equal(pa, pb, equal_nan=pa.dtype.kind == "f")
    if pa.dtype.kind == "f":
        assert _bits(pa) == _bits(pb), "predictions differ"
    if before.task is Task.CLASSIFICATION:
        assert _bits(interpret_proba(before, X)) == _bits(interpret_proba(after, X)), "probabilities differ"
