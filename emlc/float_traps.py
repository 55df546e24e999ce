"""Entry points run with numpy's floating-point traps off.

emlc computes on purpose with values at the edges of a float format (``nextafter``
below the smallest denormal, casts of float64 thresholds beyond the float32 range)
and handles NaN and infinities itself. A caller or a library that set
``np.seterr(all="raise")`` must not turn those steps into exceptions, so the public
entry points hold numpy's error state off while they run and restore it after.
"""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable)


def traps_off(fn: F) -> F:
    """``fn`` run under ``np.errstate(all="ignore")``."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]
