"""Lower an ensemble to the flat form the MicroPython backends print.

Interpreted MicroPython pays for every operation, so each decision node is reduced
to one test ``x[f] <= t`` on the *cast* input (or ``x[f] > t`` read as "go right"
for nodes that send NaN left):

* feature ranks are folded into the thresholds (``rank(x) <= k`` is
  ``x <= edges[k]``), so the device never ranks a feature;
* ``<`` becomes ``<=`` on the grid of the input type (largest float32 below ``t``
  for float32 inputs, ``ceil(t) - 1`` for integers), and for float32 inputs the
  cast itself is folded in (see :func:`_uncast32`), so the device compares the raw
  value it was given, without converting the row;
* a test that holds for no value gets threshold NaN (``x <= nan`` is false), one
  that holds for every value gets ``+inf`` (or the input type's maximum).

Decision nodes are renumbered in a topological order with each left child right
after its parent, so child references only point forward; a leaf is referenced
as ``~row`` (``-row - 1``) of the leaf table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, EarlyExit, Ensemble, Op, Task, Tree

INT_RANGES = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int16": (-32768, 32767),
    "uint16": (0, 65535),
    "int32": (-(2**31), 2**31 - 1),
}


def input_kind(ens: Ensemble) -> str:
    """``"i"`` integer features, ``"f"`` float32 features, ``"d"`` float64 features."""
    if ens.input_type in INT_RANGES:
        return "i"
    return "f" if ens.input_type == "float32" else "d"


@dataclass(frozen=True, eq=False)
class FlatForest:
    """All decision nodes of all trees, renumbered globally.

    ``feature``/``threshold``/``nan_left``/``left``/``right`` have one entry per
    decision node; a child is a node index (always larger than its parent's) or
    ``~row`` of ``Ensemble.leaves``. ``roots[i]`` is tree ``i``'s first node (or
    ``~row`` for a tree that is a single leaf).
    """

    feature: np.ndarray
    threshold: np.ndarray  # float64 on the raw (uncast) value; integral for integer inputs
    nan_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    roots: np.ndarray
    kind: str

    @property
    def n_nodes(self) -> int:
        return int(self.feature.shape[0])


def _floor32(t: float) -> float:
    """Largest float32 value <= t."""
    f = np.float32(t)
    if float(f) > t:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def _le_threshold(kind: str, lo_hi: tuple[int, int] | None, t: float, strict: bool) -> float:
    """The ``t'`` with ``x < t`` (strict) or ``x <= t`` equal to ``x <= t'`` on the input grid."""
    if kind == "i":
        lo, hi = lo_hi
        k = (math.ceil(t) - 1 if strict else math.floor(t)) if math.isfinite(t) else (hi if t > 0 else lo - 1)
        return float(min(max(k, lo - 1), hi))
    if strict and t == -math.inf:
        return math.nan
    if kind == "f":
        g = _floor32(t)
        if strict and g == t:
            g = float(np.nextafter(np.float32(g), np.float32(-np.inf)))
        return _uncast32(g)
    return float(np.nextafter(t, -np.inf)) if strict else t


_ROUNDS_TO_INF = 2.0**128 - 2.0**103  # doubles at or beyond this magnitude round to float32 infinity


def _uncast32(g: float) -> float:
    """The ``u`` with ``float32(x) <= g`` equal to ``x <= u`` for every double ``x``.

    Values below the midpoint between ``g`` and the next float32 round to at most
    ``g``; the midpoint itself rounds to the even one of the two. So the device can
    compare its raw float (a double, or a float32 already) without casting.
    """
    if math.isnan(g) or g == math.inf:
        return g
    if g == -math.inf:
        return -_ROUNDS_TO_INF
    g32 = np.float32(g)
    with np.errstate(over="ignore"):  # the largest float32 steps to inf, which is handled below
        above = np.nextafter(g32, np.float32(np.inf))
    mid = _ROUNDS_TO_INF if math.isinf(above) else (g + float(above)) / 2
    even = int(g32.view(np.uint32)) & 1 == 0
    return mid if even else float(np.nextafter(mid, -np.inf))


def _unrank(ens: Ensemble, f: int, t: float, strict: bool) -> tuple[float, bool] | bool:
    """A test on feature ``f``'s rank as a test on its value, or True/False if constant."""
    rank = ens.feature_ranks[f] if f < len(ens.feature_ranks) else None
    if rank is None:
        return t, strict
    k = (math.ceil(t) - 1 if strict else math.floor(t)) if math.isfinite(t) else (math.inf if t > 0 else -1)
    if k < 0:
        return False
    if k >= len(rank.edges):
        return True
    return float(rank.edges[int(k)]), bool(rank.strict)


def _topological(tree: Tree) -> list[int]:
    """Decision nodes in reverse postorder, right subtrees visited first (left child follows parent)."""
    order: list[int] = []
    seen = np.zeros(tree.n_nodes, dtype=bool)
    stack: list[tuple[int, bool]] = [(0, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if seen[node] or tree.op[node] == Op.LEAF:
            continue
        seen[node] = True
        stack.append((node, True))
        stack.append((int(tree.left[node]), False))
        stack.append((int(tree.right[node]), False))
    return order[::-1]


def lower(ens: Ensemble) -> FlatForest:
    """Flatten and normalise every tree (see the module docstring)."""
    kind = input_kind(ens)
    lo_hi = INT_RANGES.get(ens.input_type)
    always = float(lo_hi[1]) if kind == "i" else math.inf
    never = float(lo_hi[0] - 1) if kind == "i" else math.nan
    cols: dict[str, list] = {c: [] for c in ("feature", "threshold", "nan_left", "left", "right")}
    roots: list[int] = []
    for ti, tree in enumerate(ens.trees):
        if np.any(tree.op == Op.CAT):
            raise EmlcError(
                f"tree {ti} has categorical splits, which the MicroPython outputs do not support; "
                "use --emit c, or one-hot encode the categorical features before training"
            )
        order = _topological(tree)
        base = len(cols["feature"])
        index = {node: base + i for i, node in enumerate(order)}

        def ref(node: int) -> int:
            return ~int(tree.leaf[node]) if tree.op[node] == Op.LEAF else index[node]

        roots.append(ref(0))
        for node in order:
            f = int(tree.feature[node])
            test = _unrank(ens, f, float(tree.threshold[node]), tree.op[node] == Op.LT)
            if test is True or test is False:
                t = always if test else never
            else:
                t = _le_threshold(kind, lo_hi, *test)
            cols["feature"].append(f)
            cols["threshold"].append(t)
            cols["nan_left"].append(bool(tree.default_left[node]) and kind != "i")
            cols["left"].append(ref(int(tree.left[node])))
            cols["right"].append(ref(int(tree.right[node])))
    return FlatForest(
        feature=np.asarray(cols["feature"], dtype=np.int64),
        threshold=np.asarray(cols["threshold"], dtype=np.float64),
        nan_left=np.asarray(cols["nan_left"], dtype=bool),
        left=np.asarray(cols["left"], dtype=np.int64),
        right=np.asarray(cols["right"], dtype=np.int64),
        roots=np.asarray(roots, dtype=np.int64),
        kind=kind,
    )


def vote_classes(ens: Ensemble) -> np.ndarray:
    """For ``Aggregation.VOTE``: the output column each leaf row votes for (first argmax)."""
    return np.argmax(ens.leaf_values(), axis=1).astype(np.int64)


def number(value: float, kind: str = "d") -> str:
    """A literal that MicroPython reads back exactly (``int`` for integer grids)."""
    if kind == "i" and math.isfinite(value):
        return str(int(value))
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))


def early_exit(ens: Ensemble) -> EarlyExit | None:
    """The check points a MicroPython ``predict`` runs, or None when it evaluates every tree.

    Only a lossy exit (``confidence`` < 1) is kept: it changes predictions, so the device
    must stop exactly where emlc measured it stopping. An exact exit never changes one,
    and in interpreted MicroPython it does not pay: a check costs more than the trees it
    saves, and the check needs the float sums instead of the integer class scores
    (digits RandomForest, 40 trees of depth 6, WebAssembly MicroPython: 81 us per
    prediction without it, 199 us checking every tree, 97 us checking every tenth).
    Both outputs check on the sums they keep for ``raw`` (the interpreter's
    accumulator), so the bounds must be in that arithmetic; votes are counted, not
    summed, so a lossy exit on a VOTE model is refused (confidence_exit rewrites votes).
    """
    ee = ens.early_exit
    if ee is None or ee.confidence == 1 or ens.task is not Task.CLASSIFICATION or ee.checkpoints.size == 0:
        return None
    want = np.dtype(np.int64) if ens.leaves.dtype.kind in "iu" else np.dtype(ens.accum_dtype)
    if ens.aggregation is not Aggregation.VOTE and ee.lower.dtype == want and ee.upper.dtype == want:
        return ee
    raise EmlcError(
        "the MicroPython outputs support a lossy early exit on summed or averaged leaves with bounds in "
        "the accumulator's type; add it with confidence_exit (--early-exit), which rewrites votes as a "
        "mean of one-hot rows"
    )
