"""Loading and optimising pause the cyclic garbage collector and restore its state after."""

from __future__ import annotations

import gc

import pytest

import emlc
from emlc.passes import PASSES, Pass, optimize
from tests.passes.test_linear import stumps


@pytest.mark.parametrize("enabled", [True, False])
def test_optimize_runs_with_the_collector_paused(monkeypatch, enabled):
    seen = []
    monkeypatch.setitem(PASSES, "probe", Pass("probe", lambda e: seen.append(gc.isenabled()) or e))
    (gc.enable if enabled else gc.disable)()
    try:
        optimize(stumps(3), passes=["probe"])
        assert seen == [False] and gc.isenabled() is enabled
    finally:
        gc.enable()


def test_load_restores_the_collector_after_an_error():
    assert gc.isenabled()
    with pytest.raises(emlc.EmlcError):
        emlc.load(object())
    assert gc.isenabled()
