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

The rules (:class:`Range`) and the per-tree walk (:func:`fold_tree`) here are the
reference; :mod:`.fold_redundant_splits_bulk` folds plain trees all at once with the
same :class:`Range` rules applied to arrays, and must give the walk's trees.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree
from .trees.hashing import ContentClasses
from .trees.rewrite import RewrittenTreeBuilder

INT_RANGES = {
    name: (int(np.iinfo(name).min), int(np.iinfo(name).max))
    for name in ("int8", "uint8", "int16", "uint16", "int32")
}


def _where(cond: Any, a: Any, b: Any) -> Any:
    """``a if cond else b``, elementwise when ``cond`` is an array: :class:`Range`'s rules serve
    one node in :func:`fold_tree` and all nodes of a level at once in the bulk fold."""
    return np.where(cond, a, b) if isinstance(cond, np.ndarray) else (a if cond else b)


def _not(x: Any) -> Any:
    """``not x`` for a bool, elementwise for a bool array."""
    return x ^ True


def _finite(t: Any) -> Any:
    """Neither infinite nor NaN (plain comparisons: numpy's functions cost a microsecond on one float)."""
    return (t > -np.inf) & (t < np.inf)


_LT, _CAT = int(Op.LT), int(Op.CAT)


class Range(NamedTuple):
    """Values a feature can still take: ``lo <(=) x <(=) hi``, plus NaN if ``nan``.

    Fields are one feature's (the walk) or arrays, one entry per node (the bulk fold);
    the rules are written elementwise for both.
    """

    lo: Any
    lo_strict: Any
    hi: Any
    hi_strict: Any
    nan: Any
    integral: Any

    def all_below(self, t: Any, strict: Any) -> Any:
        """Every non-NaN value satisfies ``x < t`` (strict) or ``x <= t``."""
        return (self.hi < t) | ((self.hi == t) & (self.hi_strict | _not(strict)))

    def all_above(self, t: Any, strict: Any) -> Any:
        """Every non-NaN value satisfies ``x > t`` (strict) or ``x >= t``."""
        return (self.lo > t) | ((self.lo == t) & (self.lo_strict | _not(strict)))

    def below(self, t: Any, strict: Any, nan: Any) -> Range:
        """The values that also satisfy ``x < t`` (strict) or ``x <= t``; NaN if ``nan``."""
        whole = self.integral & _finite(t)  # then x < t is x <= t - 1 for whole t, else x <= floor(t)
        floor = t // 1.0
        t, strict = _where(whole, _where(strict & (t == floor), t - 1.0, floor), t), strict & _not(whole)
        tighter = (t < self.hi) | ((t == self.hi) & strict)
        return Range(self.lo, self.lo_strict, _where(tighter, t, self.hi), _where(tighter, strict, self.hi_strict),
                     nan, self.integral)

    def above(self, t: Any, strict: Any, nan: Any) -> Range:
        """The values that also satisfy ``x > t`` (strict) or ``x >= t``; NaN if ``nan``."""
        whole = self.integral & _finite(t)  # then x > t is x >= t + 1 for whole t, else x >= ceil(t)
        ceil = -(-t // 1.0)
        t, strict = _where(whole, _where(strict & (t == ceil), t + 1.0, ceil), t), strict & _not(whole)
        tighter = (t > self.lo) | ((t == self.lo) & strict)
        return Range(_where(tighter, t, self.lo), _where(tighter, strict, self.lo_strict), self.hi, self.hi_strict,
                     nan, self.integral)

    def with_nan(self, nan: Any) -> Range:
        return Range(self.lo, self.lo_strict, self.hi, self.hi_strict, nan, self.integral)

    def decide(self, op: Any, t: Any, default_left: Any) -> tuple[Any, Any]:
        """Does split ``op`` (``x < t``, ``x <= t`` or a category test; NaN left if ``default_left``)
        go one way for every value here (NaN only counting if possible), and is that left?"""
        compare, strict, no_nan = op != _CAT, op == _LT, _not(self.nan)
        left = compare & self.all_below(t, strict) & (default_left | no_nan)
        right = compare & self.all_above(t, _not(strict)) & (_not(default_left) | no_nan)
        return left | right, left

    def split(self, op: Any, t: Any, default_left: Any) -> tuple[Range, Range]:
        """What split ``op`` leaves for its left and its right child; a category test only
        splits NaN (the category bitset is not tracked)."""
        cat, strict = op == _CAT, op == _LT
        nan_left, nan_right = self.nan & default_left, self.nan & _not(default_left)
        left, right = self.below(t, strict, nan_left), self.above(t, _not(strict), nan_right)
        return _pick(cat, self.with_nan(nan_left), left), _pick(cat, self.with_nan(nan_right), right)


def _pick(cond: Any, a: Range, b: Range) -> Range:
    """``a if cond else b``, field by field when ``cond`` is an array."""
    if isinstance(cond, np.ndarray):
        return Range(*(np.where(cond, x, y) for x, y in zip(a, b)))
    return a if cond else b


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
            out.append(Range(-np.inf, False, np.inf, False, True, False))
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
    b = RewrittenTreeBuilder(classes, tree, share=False)
    op, feature, default_left = tree.op.tolist(), tree.feature.tolist(), tree.default_left.tolist()
    threshold = tree.threshold.astype(np.float64).tolist()
    left, right = tree.left.tolist(), tree.right.tolist()
    leaf_op = int(Op.LEAF)
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
            decided, go_left = r.decide(o, threshold[i], default_left[i])
            if decided:
                i = left[i] if go_left else right[i]
                continue
            lr, rr = r.split(o, threshold[i], default_left[i])
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
    """Splits implied by the path above them, or with equal children, replaced by their child:
    :func:`fold_tree` on every tree, as :func:`~.fold_redundant_splits_bulk.fold_forest`
    does it (plain trees all at once, only the trees that change rebuilt)."""
    from .fold_redundant_splits_bulk import fold_forest  # imports this module

    return fold_forest(ens, ContentClasses.of(ens), input_ranges(ens))
