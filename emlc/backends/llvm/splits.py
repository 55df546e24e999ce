"""The node-test rules every LLVM tree kernel shares (inline, vector and table walk).

A feature is compared in the compare type ``W`` (float when the input type fits a float
exactly), so each threshold is rounded towards the side that keeps the test unchanged
for every ``W`` value; NaN goes to the node's default side through the ``fcmp``
predicate's ordering.
"""

from __future__ import annotations

import numpy as np

from ...ir.ensemble import Op, Tree


def round_for(values: np.ndarray, w: str, up: bool) -> np.ndarray:
    """Round float64 thresholds to compare type ``w`` without changing any test.

    ``x <= t`` equals ``x <= round_down(t)`` and ``x < t`` equals ``x < round_up(t)``
    for every ``x`` representable in ``w``.
    """
    values = np.asarray(values, dtype=np.float64)
    if w == "double":
        return values
    with np.errstate(over="ignore"):
        r = values.astype(np.float32)
    wrong = (r.astype(np.float64) < values) if up else (r.astype(np.float64) > values)
    r[wrong] = np.nextafter(r[wrong], np.float32(np.inf if up else -np.inf))
    return r.astype(np.float64)


def split_values(tree: Tree, w: str) -> np.ndarray:
    """Each node's threshold in compare type ``w``, rounded so its test is unchanged
    (down for ``<=``, up for ``<``); what every tree kernel compares against."""
    thr = tree.threshold.astype(np.float64)
    return np.where(tree.op == Op.LT, round_for(thr, w, up=True), round_for(thr, w, up=False))


def split_predicate(op: int, default_left: bool) -> str:
    """The ``fcmp`` predicate of a ``<=``/``<`` node: unordered (true for NaN) when NaN
    goes left, ordered otherwise."""
    return ("u" if default_left else "o") + ("le" if op == Op.LE else "lt")
