"""Inline layout tests that read float32 bits directly: every sign, NaN sign and rank case."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c
from emlc.backends.c.numeric import key, key_limit
from emlc.backends.c.inline_text import half_condition as _half_condition
from emlc.backends.c.inline_text import no_nan_condition
from emlc.ir import FeatureRank, Op
from tests.backends.c.test_emit import _probe, check_agrees, expected
from tests.conftest import require_tool
from tests.e2e.harness import run_parallel

NEG_NAN = np.array(0xFFC00001, dtype=np.uint32).view(np.float32)
POS_NAN_PAYLOAD = np.array(0x7F800001, dtype=np.uint32).view(np.float32)
NEG_NAN_PAYLOAD = np.array(0xFF800001, dtype=np.uint32).view(np.float32)
VALUES = [NEG_NAN, POS_NAN_PAYLOAD, NEG_NAN_PAYLOAD, np.float32(np.nan), -0.0, 0.0, 1e-45, -1e-45, 0.5,
          -0.5, np.nextafter(np.float32(-0.5), np.float32(0)), 2.0, -2.0, np.inf, -np.inf, 3.4e38, -3.4e38]
THRESHOLDS = [-0.5, -0.0, 0.0, 0.5, -2.0, 1e-46, -1e-46, np.inf, -np.inf, 1e39, -1e39]


def _rows(n_features: int) -> np.ndarray:
    col = np.array(VALUES, dtype=np.float32)
    return np.repeat(col[:, None], n_features, axis=1)


def test_float_bits_compare_like_keys_for_every_sign_and_nan():
    require_tool("gcc")
    specs = [(t, op, dl) for t in THRESHOLDS for op in (Op.LE, Op.LT) for dl in (False, True)]
    ens = _probe(specs)
    code = emit_c(ens, "host", "model", "inline")
    assert "MODEL_BITS(" in code and "model_prepare" not in code
    assert np.signbit(_rows(1)[0, 0]) and np.isnan(_rows(1)[0, 0])
    check_agrees(ens, _rows(ens.n_features), "inline")


def _bits64(u: int) -> float:
    return float(np.array(u, dtype=np.uint64).view(np.float64))


# float64 NaNs of both signs with payloads, subnormals, and neighbours of float32 grid points
VALUES64 = [_bits64(0xFFF8000000000001), _bits64(0x7FF0000000000001), _bits64(0xFFF0000000000001), np.nan,
            -0.0, 0.0, 5e-324, -5e-324, 0.5, -0.5, np.nextafter(-0.5, 0.0), np.nextafter(0.5, 1.0), 2.0, -2.0,
            np.inf, -np.inf, 1.7e308, -1.7e308, 1e39, -1e39, float(np.float32(0.1)), 0.1, np.nextafter(0.1, 1.0)]


def test_double_bits_compare_like_keys_for_every_sign_and_nan():
    """float64 inputs (LightGBM, HistGradientBoosting on the host) test a double's bits as int64."""
    require_tool("gcc")
    specs = [(t, op, dl) for t in [*THRESHOLDS, 0.1, np.nextafter(0.1, 1.0), 5e-324, -1.7e308]
             for op in (Op.LE, Op.LT) for dl in (False, True)]
    ens = _probe(specs, input_type="float64")
    code = emit_c(ens, "host", "model", "inline")
    assert "MODEL_BITS(" in code and "model_prepare" not in code and "int64_t model_bits(double x)" in code
    X = np.repeat(np.array(VALUES64, dtype=np.float64)[:, None], ens.n_features, axis=1)
    check_agrees(ens, X, "inline")


@pytest.mark.parametrize("strict", [False, True])
def test_ranked_features_are_unranked_in_inline_code(strict):
    require_tool("gcc")
    edges = np.array([-2.0, -0.5, 0.0, 0.5], dtype=np.float64)
    specs = [(float(k), Op.LE, dl) for k in (-1, 0, 1, 2, 3, 4, 7) for dl in (False, True)]
    ens = _probe(specs)
    ens = ens.replace(feature_ranks=tuple(FeatureRank(edges, strict=strict) for _ in specs))
    code = emit_c(ens, "host", "model", "inline")
    assert "model_rank" not in code and "model_edges" not in code
    check_agrees(ens, _rows(ens.n_features), "inline")
    check_agrees(ens, _rows(ens.n_features), "table")


@pytest.mark.parametrize("input_type", ["int16", "uint8"])
def test_integer_features_compare_in_their_own_type(input_type):
    require_tool("gcc")
    specs = [(t, op, False) for t in (-1.5, 0.0, 3.0, 254.5, 1e6, -1e6) for op in (Op.LE, Op.LT)]
    ens = _probe(specs, input_type=input_type)
    code = emit_c(ens, "host", "model", "inline")
    assert "model_prepare" not in code and f"const {input_type}_t *features" in code
    info = np.iinfo(input_type)
    X = np.repeat(np.array([info.min, -2, -1, 0, 3, 4, 254, 255, info.max])[:, None], ens.n_features, axis=1)
    X = np.clip(X, info.min, info.max)
    check_agrees(ens, X, "inline")


def _bits(u: int) -> np.float32:
    return np.array(u, dtype=np.uint32).view(np.float32)


# thresholds whose lower 16 bits are zero, all ones, or neither, with values on both sides
HALF_THRESHOLDS = [1.0, -1.0, 1.1, -1.1, float(_bits(0x3F80FFFF)), float(_bits(0xBF80FFFF)), 8.5]
HALF_VALUES = [_bits(u) for u in (0x3F800000, 0x3F800001, 0x3F7FFFFF, 0x3F8CCCCC, 0x3F8CCCCD, 0x3F8CCCCE,
                                  0x3F80FFFF, 0x3F80FFFE, 0x3F810000, 0xBF8CCCCD, 0xBF8CCCCE, 0xBF80FFFF,
                                  0xBF810000, 0x41080000, 0x41080001, 0x4107FFFF, 0xFF800000, 0xFF800001,
                                  0x7F800000, 0x7F800001, 0xFFFFFFFF, 0x80000000)]


def test_avr_half_word_tests_agree_on_every_sign_nan_and_half_boundary():
    """AVR compares the upper 16 bits and reads the lower half only on a tie (simavr run)."""
    require_tool("avr-gcc", "simavr")
    specs = [(t, op, dl) for t in [*THRESHOLDS, *HALF_THRESHOLDS] for op in (Op.LE, Op.LT) for dl in (False, True)]
    probes = [_probe(specs[i : i + 24]) for i in range(0, len(specs), 24)]  # simavr wraps long lines
    assert all("MODEL_HI(" in (c := emit_c(e, "avr", "model", "inline")) and "model_bits(" not in c for e in probes)
    col = np.array([*VALUES, *HALF_VALUES], dtype=np.float32)[:, None]
    jobs = [(e, np.repeat(col, e.n_features, axis=1), "avr", "inline") for e in probes]
    for (ens, X, _, _), got in zip(jobs, run_parallel(jobs, workers=2)):
        np.testing.assert_array_equal(got.values, expected(ens, X)[1].astype(np.float32))


def _eval_c(expr: str, h: int, lo: int) -> bool:
    py = re.sub(r"\(uint16_t\)M_HI\(\d+\)", "(h & 0xFFFF)", expr)
    py = re.sub(r"\bM_HI\(\d+\)", "h", py)
    py = re.sub(r"\bM_LO\(\d+\)", "lo", py)
    py = re.sub(r"(\d+)[uL]+\b", r"\1", py).replace("&&", " and ").replace("||", " or ")
    return bool(eval(py, {}, {"h": h, "lo": lo}))


@settings(max_examples=300)
@given(st.integers(-(2**31), 2**31 - 1), st.integers(0, 2**32 - 1), st.booleans())
def test_half_word_condition_is_the_key_test(k, bits, nan_left):
    """The 16-bit expression sends exactly the floats left whose key is <= k (NaN to its side)."""
    limit = key_limit("float32")
    k = max(min(k, limit), -limit - 1)
    if (k >= limit and nan_left) or (k < -limit and not nan_left):
        return  # the same side for every value: folded at compile time, never emitted
    expr = _half_condition("M", 0, k, nan_left, -limit, limit)
    x = _bits(bits)
    want = nan_left if np.isnan(x) else key(float(x), "float32") <= k
    signed = bits - 2**32 if bits >= 2**31 else bits
    assert _eval_c(expr, signed >> 16, bits & 0xFFFF) == want




@settings(max_examples=300)
@given(st.integers(-(2**31), 2**31 - 1), st.integers(0, 2**32 - 1))
@example(0x3F80FFFF, 0x3F810000).via("lower half all ones")
@example(0x3F800000, 0x3F800001).via("lower half zero")
@example(-0x3F800000, 0xBF7FFFFF).via("negative bound, lower half zero")
@example(-0x3F801234, 0xBF801233).via("negative bound")
@example(0, 0x80000000).via("-0 against +0")
def test_no_nan_condition_is_the_key_test_for_every_other_value(k, bits):
    """The NaN-free 16-bit expression (behind the NaN guard) sends exactly the floats left
    whose key is <= k, for every float32 but NaN: +-0, subnormals, +-inf, the largest."""
    limit = key_limit("float32")
    k = max(min(k, limit), -limit - 1)
    x = _bits(bits)
    if np.isnan(x):
        x = _bits(bits & 0xFF800000)  # the infinity of its sign
        bits = int(np.array(x, dtype=np.float32).view(np.uint32))
    expr = no_nan_condition("M", 0, k, -limit, limit)
    signed = bits - 2**32 if bits >= 2**31 else bits
    assert _eval_c(expr, signed >> 16, bits & 0xFFFF) == (key(float(x), "float32") <= k)
