"""Loading and optimising run with Python's cyclic garbage collector paused.

Both build and drop thousands of small objects (trees, parsed sections) that die by
reference counting and make no cycles; while they live, each round of young
collections promotes some, and enough promotions trigger a full collection, which
walks every object of the caller's process (a pickled model alone may hold a hundred
thousand): 50-130 ms each, at random points of a big model's compile. Pausing the
collector for the call avoids those; whatever cycles a call leaves are collected
after, as usual.
"""

from __future__ import annotations

import functools
import gc
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def gc_paused(fn: F) -> F:
    """``fn`` run with the garbage collector disabled (if it was enabled, re-enabled after)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return run  # type: ignore[return-value]
