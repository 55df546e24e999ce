"""The inline walk's float tests in the FPU (DirectTest.FLOAT) say what the key tests say."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.c import numeric as num
from emlc.backends.c.inline_text import float_condition, float_literal, key_value

LIMIT = num.key_limit("float32")
SPECIAL = [0.0, -0.0, 1.5, -1.5, 1e-45, -1e-45, 1.17549435e-38, 3.4028235e38, -3.4028235e38,
           np.inf, -np.inf, np.nan, -np.nan]


def _float32(bits: int) -> np.float32:
    return np.uint32(bits).view(np.float32)


@settings(max_examples=300, deadline=None)
@given(st.integers(-LIMIT, LIMIT - 1), st.lists(st.integers(0, 2**32 - 1), max_size=20), st.booleans())
def test_float_compare_equals_the_key_test(k, bits, nan_left):
    """For every float32 x: the condition's compare (x <= t, or !(x > t) where NaN goes
    left) sends x left exactly when its key is <= k (NaN: nan_left), and t's literal
    reads back as t (shortest round trip, 'f' suffix)."""
    t = key_value(k)
    assert num.key(float(t), "float32") == k
    text = float_literal(t)
    assert text.endswith("f") and np.float32(text[:-1]).view(np.uint32) == t.view(np.uint32)
    cond = float_condition(3, k, nan_left, -LIMIT, LIMIT)
    assert cond == (f"!(features[3] > {text})" if nan_left else f"features[3] <= {text}")
    with np.errstate(invalid="ignore"):
        for x in [np.float32(v) for v in SPECIAL] + [_float32(b) for b in bits]:
            sent_left = bool(not (x > t)) if nan_left else bool(x <= t)
            want = nan_left if np.isnan(x) else num.key(float(x), "float32") <= k
            assert sent_left == want, (x, k)


def test_tests_no_threshold_separates_compare_x_with_itself():
    """Keys outside the range: only NaN goes one way (the bits forms 0 and 1)."""
    assert float_condition(2, LIMIT, False, -LIMIT, LIMIT) == "features[2] == features[2]"
    assert float_condition(2, -LIMIT - 1, True, -LIMIT, LIMIT) == "features[2] != features[2]"
