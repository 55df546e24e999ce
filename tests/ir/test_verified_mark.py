"""The verifier checks an ensemble once: loading verifies, so optimize does not repeat it."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from emlc.errors import IRError
from emlc.ir import verify as verify_module
from emlc.ir.verify import verify
from tests.passes.test_linear import stumps


def test_an_accepted_ensemble_is_not_checked_again(monkeypatch):
    ens = stumps(3)  # verified once already
    calls = []
    real = verify_module._verify_header
    monkeypatch.setattr(verify_module, "_verify_header", lambda e: calls.append(e) or real(e))
    assert verify(ens) is ens and calls == []
    fresh = ens.replace(leaves=ens.leaves + 1.0)  # same trees, other leaves: checked again
    assert verify(fresh) is fresh and calls == [fresh]
    for other in (pickle.loads(pickle.dumps(ens)), copy.copy(ens)):
        assert verify(other) is other and calls[-1] is other


def test_a_rejected_ensemble_stays_unmarked():
    ens = stumps(2)
    bad = ens.replace(leaves=np.array([[np.nan]] * 4))
    for _ in range(2):
        with pytest.raises(IRError, match="non-finite"):
            verify(bad)
