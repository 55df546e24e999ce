"""emlc.jit's predict_proba / predict of linked models are bit-identical to the library's
(the margins come from the compiled code, the link is the interpreter's rule)."""

from __future__ import annotations

import numpy as np
import pytest

from emlc.backends.llvm import jit
from tests.link_cases import cases, ids


@pytest.mark.parametrize("case", cases(), ids=ids())
def test_jit_equals_library_bit_for_bit(case):
    p = jit(case.model, cache_dir=False)
    got = p.predict_proba(case.X) if case.proba else p.predict(case.X)
    assert got.dtype == case.expected.dtype
    assert np.array_equal(got, case.expected, equal_nan=True)
