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
import sys
from dataclasses import dataclass

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree
from .treebuild import TreeBuilder, map_trees

INT_RANGES = {
    name: (int(np.iinfo(name).min), int(np.iinfo(name).max))
    for name in ("int8", "uint8", "int16", "uint16", "int32")
}


@dataclass(frozen=True)
class Range:
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


def fold_tree(ens: Ensemble, tree: Tree) -> Tree:
    """``tree`` rebuilt with every decided or redundant split replaced by its child."""
    b = TreeBuilder(ens, share=False)
    start = input_ranges(ens)
    memo: dict[tuple, int] = {}
    op, feature, threshold = tree.op, tree.feature, tree.threshold
    default_left, left, right = tree.default_left, tree.left, tree.right

    def visit(i: int, known: tuple) -> int:
        key = (i, known)
        if key in memo:
            return memo[key]
        if op[i] == Op.LEAF:
            memo[key] = b.leaf(int(tree.leaf[i]))
            return memo[key]
        f = int(feature[i])
        ranges = dict(known)
        r = ranges.get(f, start[f])
        dl = bool(default_left[i])
        if op[i] == Op.CAT:
            lr, rr = r.with_nan(r.nan and dl), r.with_nan(r.nan and not dl)
        else:
            t, strict = float(threshold[i]), op[i] == Op.LT
            if r.all_below(t, strict) and (dl or not r.nan):
                memo[key] = visit(int(left[i]), known)
                return memo[key]
            if r.all_above(t, not strict) and (not dl or not r.nan):
                memo[key] = visit(int(right[i]), known)
                return memo[key]
            lr, rr = r.below(t, strict, r.nan and dl), r.above(t, not strict, r.nan and not dl)
        lk = tuple(sorted({**ranges, f: lr}.items()))
        rk = tuple(sorted({**ranges, f: rr}.items()))
        node = b.split(op[i], f, threshold[i], dl, visit(int(left[i]), lk), visit(int(right[i]), rk), int(tree.cat[i]))
        memo[key] = node
        return node

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * tree.n_nodes + 1000))
    return b.tree(visit(0, ()))


def fold_redundant_splits(ens: Ensemble) -> Ensemble:
    """Splits implied by the path above them, or with equal children, replaced by their child."""
    return map_trees(ens, lambda t: fold_tree(ens, t))
