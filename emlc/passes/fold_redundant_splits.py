"""``fold_redundant_splits``: remove splits whose outcome is already known.

Walking each tree from the root, the pass tracks, per feature, the interval of
values a row can still have and whether it can still be NaN (starting from what
the input type and feature ranks allow). A split whose outcome is then fixed for
every possible value, NaN included (NaN only counts when the row can still be
NaN, and then it must go the same way), is replaced by the child it always takes;
a split whose two children are structurally equal is replaced by that child.
Lossless: every row still reaches the same leaf row content.

Integer-valued features (integer inputs, ranks) tighten strict bounds to the next
integer, so ``x < 3.5`` below ``x > 3`` is known on an int16 input.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree
from .treebuild import ContentClasses, TreeBuilder

INT_RANGES = {
    name: (int(np.iinfo(name).min), int(np.iinfo(name).max))
    for name in ("int8", "uint8", "int16", "uint16", "int32")
}


class Range(NamedTuple):
    """Values a feature can still take: ``lo <(=) x <(=) hi``, plus NaN if ``nan``."""

    lo: float
    lo_strict: bool
    hi: float
    hi_strict: bool
    nan: bool
    integral: bool

    def all_below(self, t: float, strict: bool) -> bool:
        """Every non-NaN value satisfies ``x < t`` (strict) or ``x <= t``."""
        return self.hi < t or (self.hi == t and (self.hi_strict or not strict))

    def all_above(self, t: float, strict: bool) -> bool:
        """Every non-NaN value satisfies ``x > t`` (strict) or ``x >= t``."""
        return self.lo > t or (self.lo == t and (self.lo_strict or not strict))

    def below(self, t: float, strict: bool, nan: bool) -> "Range":
        if self.integral and math.isfinite(t):
            t, strict = (t - 1.0, False) if strict and t == math.floor(t) else (float(math.floor(t)), False)
        hi, hs = (t, strict) if t < self.hi or (t == self.hi and strict) else (self.hi, self.hi_strict)
        return Range(self.lo, self.lo_strict, hi, hs, nan, self.integral)

    def above(self, t: float, strict: bool, nan: bool) -> "Range":
        if self.integral and math.isfinite(t):
            t, strict = (t + 1.0, False) if strict and t == math.floor(t) else (float(math.ceil(t)), False)
        lo, ls = (t, strict) if t > self.lo or (t == self.lo and strict) else (self.lo, self.lo_strict)
        return Range(lo, ls, self.hi, self.hi_strict, nan, self.integral)

    def with_nan(self, nan: bool) -> "Range":
        return Range(self.lo, self.lo_strict, self.hi, self.hi_strict, nan, self.integral)


def input_ranges(ens: Ensemble) -> list[Range]:
    """What each feature's compared value can be before any split is taken."""
    out = []
    float_input = ens.input_type.startswith("float")
    for f in range(ens.n_features):
        rank = ens.feature_ranks[f] if ens.feature_ranks else None
        if rank is not None:
            out.append(Range(0.0, False, float(rank.edges.size), False, float_input, True))
        elif not float_input:
            lo, hi = INT_RANGES[ens.input_type]
            out.append(Range(float(lo), False, float(hi), False, False, True))
        else:
            out.append(Range(-math.inf, False, math.inf, False, True, False))
    return out


# Work items of fold_tree's walk: enter a split's right child; emit a split.
_RIGHT, _EMIT = 0, 1


def _revisitable(tree: Tree) -> list[bool] | None:
    """Per node, can the walk reach it twice (it or an ancestor has two parents)? None: no node can."""
    inner = tree.op != Op.LEAF
    children = np.concatenate([tree.left[inner], tree.right[inner]])
    indegree = np.bincount(children, minlength=tree.n_nodes)
    mark = indegree > 1
    if not mark.any():
        return None
    frontier = np.flatnonzero(mark)
    while frontier.size:
        frontier = frontier[inner[frontier]]
        below = np.concatenate([tree.left[frontier], tree.right[frontier]])
        frontier = np.unique(below[~mark[below]])
        mark[frontier] = True
    return mark.tolist()


def fold_tree(classes: ContentClasses, start: list[Range], tree: Tree) -> Tree:
    """``tree`` rebuilt with every decided or redundant split replaced by its child.

    A depth-first walk with an explicit stack (trees may be thousands deep) keeps the
    ranges implied by the path in ``known`` (feature -> range), changing one entry on
    the way down and restoring it on the way up. On a DAG a node below a shared one
    may be reached again with the same ranges; ``memo`` then reuses what that context
    built (other nodes are reached once, so they skip the look-up).
    """
    b = TreeBuilder(classes, tree, share=False)
    op, feature, default_left = tree.op.tolist(), tree.feature.tolist(), tree.default_left.tolist()
    threshold = tree.threshold.astype(np.float64).tolist()
    left, right = tree.left.tolist(), tree.right.tolist()
    leaf_op, lt_op, cat_op = int(Op.LEAF), int(Op.LT), int(Op.CAT)
    revisit = _revisitable(tree) or [False] * tree.n_nodes
    memo: dict[tuple, int] = {}
    known: dict[int, Range] = {}
    built: list[int] = []
    absent = object()
    tasks: list[tuple] = []  # (_RIGHT, node, feature, range) or (_EMIT, split, memo keys, feature, range before)
    i: int | None = 0
    while i is not None:
        keys: list = []
        while True:  # descend from i along left children until a node is built
            if revisit[i]:
                k = (i, tuple(sorted(known.items())))
                if k in memo:
                    node = memo[k]
                    break
                keys.append(k)
            o = op[i]
            if o == leaf_op:
                node = b.leaf(i)
                break
            f = feature[i]
            r = known.get(f, start[f])
            dl = default_left[i]
            if o == cat_op:
                lr, rr = r.with_nan(r.nan and dl), r.with_nan(r.nan and not dl)
            else:
                t, strict = threshold[i], o == lt_op
                if r.all_below(t, strict) and (dl or not r.nan):
                    i = left[i]
                    continue
                if r.all_above(t, not strict) and (not dl or not r.nan):
                    i = right[i]
                    continue
                lr, rr = r.below(t, strict, r.nan and dl), r.above(t, not strict, r.nan and not dl)
            tasks.append((_EMIT, i, keys, f, known.get(f, absent)))
            tasks.append((_RIGHT, right[i], f, rr))
            known[f] = lr
            i, keys = left[i], []
        i = None
        while True:  # record what was built, then emit finished splits until a right child is pending
            for k in keys:
                memo[k] = node
            built.append(node)
            if not tasks:
                break
            task = tasks.pop()
            if task[0] == _RIGHT:
                _, i, f, rr = task
                known[f] = rr
                break
            _, split, keys, f, prev = task
            if prev is absent:
                del known[f]
            else:
                known[f] = prev
            r_node = built.pop()
            node = b.split(split, built.pop(), r_node)
    return b.tree(built.pop())


def fold_redundant_splits(ens: Ensemble) -> Ensemble:
    """Splits implied by the path above them, or with equal children, replaced by their child."""
    classes, start = ContentClasses.of(ens), input_ranges(ens)
    return ens.replace(trees=tuple(fold_tree(classes, start, t) for t in ens.trees))
