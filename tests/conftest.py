"""Shared test configuration: bounded hypothesis profiles and toolchain checks."""

from __future__ import annotations

import importlib
import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
os.environ.setdefault("EMLC_VERIFY_EACH", "1")  # every pass verified in the tests (optimize's verify_each)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def require_module(name: str):
    """Import an optional test dependency: skip when missing, fail under CI (``pip install .[test]``)."""
    if os.environ.get("CI"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


def require_tool(*names: str) -> None:
    """Skip when a toolchain program is missing, but fail under CI where it must exist."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        msg = f"missing toolchain program(s): {', '.join(missing)} (see .ci/run for the install)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
