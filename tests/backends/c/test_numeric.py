"""The vectorised threshold keys agree with the per-node scalar ones on every edge case."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from emlc.backends.c import numeric as num
from emlc.ir.ensemble import Op

EDGES = [0.0, -0.0, 1.0, -1.0, 0.1, -0.1, 1e-45, -1e-45, 1e-320, 3.4028235e38, 3.5e38, -3.5e38,
         1e300, -1e300, np.inf, -np.inf, 2.0**-149, np.nextafter(1.0, 2.0), np.nextafter(-1.0, -2.0)]


def _scalar(op: np.ndarray, t: np.ndarray, precision: str) -> list[int]:
    with np.errstate(over="ignore"):
        return [num.float_threshold_key(int(o), float(x), precision) for o, x in zip(op, t)]


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_edge_thresholds_match_scalar_keys(precision: str) -> None:
    t = np.array(EDGES * 2)
    op = np.array([int(Op.LE)] * len(EDGES) + [int(Op.LT)] * len(EDGES))
    assert num.float_threshold_keys(op, t, precision).tolist() == _scalar(op, t, precision)


@given(st.lists(st.tuples(st.booleans(), st.floats(allow_nan=False)), min_size=1, max_size=40),
       st.sampled_from(["float32", "float64"]))
def test_random_thresholds_match_scalar_keys(nodes: list[tuple[bool, float]], precision: str) -> None:
    op = np.array([int(Op.LE) if le else int(Op.LT) for le, _ in nodes])
    t = np.array([x for _, x in nodes])
    assert num.float_threshold_keys(op, t, precision).tolist() == _scalar(op, t, precision)
