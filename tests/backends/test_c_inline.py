"""Inline layout tests that read float32 bits directly: every sign, NaN sign and rank case."""

from __future__ import annotations

import numpy as np
import pytest

from emlc.backends.c import emit_c
from emlc.ir import FeatureRank, Op
from tests.backends.test_c import _probe, check_agrees
from tests.conftest import require_tool

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
    assert "model_bits(features[" in code and "model_prepare" not in code
    assert np.signbit(_rows(1)[0, 0]) and np.isnan(_rows(1)[0, 0])
    check_agrees(ens, _rows(ens.n_features), "inline")


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
