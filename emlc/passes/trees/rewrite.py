"""Building rewritten trees: node copies bottom-up with structural classes, or whole-ensemble columns.

Passes never edit node columns in place. A per-tree rewrite emits a fresh tree through
:class:`RewrittenTreeBuilder` (with ``share=True`` each structural class once: equal
subtrees become one DAG node); an all-at-once rewrite gathers node copies for every tree
(:func:`copied_nodes`, :func:`resolved_preorder`); :func:`rebuild_some` rebuilds only the
trees that change.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...ir.ensemble import Ensemble, Op, Tree
from .forest import Forest
from .hashing import ContentClasses
from .walk import preorder_of_links


class RewrittenTreeBuilder:
    """Emits copies of a source tree's nodes bottom-up and assembles them into a :class:`Tree`.

    A leaf is copied as is; a split keeps its test and gets new children. Node
    structural classes compare leaves by leaf-row content and categorical nodes by
    bitset content, so two subtrees with the same class route every input to equal
    leaf rows. The node columns are read once as Python lists and the new tree is
    gathered from the source columns in one step, so emitting costs a dict look-up.
    """

    def __init__(self, classes: ContentClasses, source: Tree, *, share: bool) -> None:
        self.share = share
        self.source = source
        self._leaf_class = classes.leaf
        self._leaf = source.leaf.tolist()
        thr = np.ascontiguousarray(source.threshold)
        bits = thr.view(f"u{thr.dtype.itemsize}")
        cat_class = np.where(source.cat >= 0, classes.cat[np.maximum(source.cat, 0)] if classes.cat.size else -1, -1)
        # A split's test, with the threshold by bit pattern (so -0.0 and 0.0 stay apart).
        self._test = list(zip(
            source.op.tolist(), source.feature.tolist(), bits.tolist(),
            source.default_left.tolist(), cat_class.tolist(),
        ))
        self._src: list[int] = []
        self._left: list[int] = []
        self._right: list[int] = []
        self._klass: list[int] = []
        self._classes: dict[tuple, int] = {}

    def _emit(self, key: tuple, src: int, left: int, right: int) -> int:
        k = self._classes.setdefault(key, len(self._classes))
        # Sharing emits one node per class, in class order, so node k is class k's node.
        if self.share and k < len(self._src):
            return k
        self._src.append(src)
        self._left.append(left)
        self._right.append(right)
        self._klass.append(k)
        return len(self._src) - 1

    def leaf(self, i: int) -> int:
        """A copy of source leaf ``i``."""
        return self._emit((self._leaf_class[self._leaf[i]],), i, -1, -1)

    def split(self, i: int, left: int, right: int) -> int:
        """Source split ``i`` over new children; if they are structurally equal, that child instead."""
        kl, kr = self._klass[left], self._klass[right]
        if kl == kr:
            return left
        return self._emit((*self._test[i], kl, kr), i, left, right)

    def tree(self, root: int) -> Tree:
        """The nodes reachable from ``root``, renumbered in preorder."""
        order = preorder_of_links(self._left, self._right, root)
        return copy_nodes(self.source, np.asarray(self._src, dtype=np.int64), self._left, self._right, order).mark_preorder()


def copy_nodes(source: Tree, src: np.ndarray, left, right, order: list[int]) -> Tree:
    """A tree of new nodes ``order`` (in that order), node ``k`` a copy of source node
    ``src[k]`` with children ``left[k]``/``right[k]`` (new numbers, -1 on leaves).

    Copies are normalised as the IR expects: leaves without feature, threshold,
    default or category set, splits without leaf row.
    """
    order_a = np.asarray(order, dtype=np.int64)
    src = src[order_a]
    remap = np.full(len(left) + 1, -1, dtype=np.int32)  # index -1 (no child) stays -1
    remap[order_a] = np.arange(order_a.size, dtype=np.int32)
    is_leaf = source.op[src] == Op.LEAF
    cols = {c: getattr(source, c)[src] for c in Tree.COLUMNS}
    cols["left"] = remap[np.asarray(left, dtype=np.int64)[order_a]]
    cols["right"] = remap[np.asarray(right, dtype=np.int64)[order_a]]
    cols["feature"][is_leaf] = -1
    cols["threshold"][is_leaf] = 0
    cols["default_left"][is_leaf] = False
    cols["cat"][is_leaf] = -1
    cols["leaf"][~is_leaf] = -1
    return Tree(**cols)


def copied_nodes(ens: Ensemble, src: np.ndarray, left: np.ndarray, right: np.ndarray) -> dict[str, np.ndarray]:
    """Node columns of new trees back to back, node ``k`` a copy of ensemble node ``src[k]``
    (ensemble-wide number) with children ``left[k]``/``right[k]`` (new tree-local numbers;
    ignored on leaves), normalised as :func:`copy_nodes` does."""
    cols = {c: ens.column(c)[src] for c in Tree.COLUMNS}
    inner = cols["op"] != Op.LEAF
    cols["left"] = np.where(inner, left, -1).astype(np.int32)
    cols["right"] = np.where(inner, right, -1).astype(np.int32)
    cols["feature"][~inner] = -1
    cols["threshold"][~inner] = 0
    cols["default_left"][~inner] = False
    cols["cat"][~inner] = -1
    cols["leaf"][inner] = -1
    return cols


def resolved_preorder(fo: Forest, resolved: np.ndarray, emits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Preorder positions in the plain trees with every node replaced by the node it resolves
    to (``emits`` marks the nodes that stand for themselves; a split's children are its
    children's resolved nodes), and which nodes that tree holds: (position, held)."""
    n = fo.op.size
    res_left = np.where(fo.inner, resolved[np.maximum(fo.left, 0)], -1)
    res_right = np.where(fo.inner, resolved[np.maximum(fo.right, 0)], -1)
    size = np.ones(n, dtype=np.int64)
    for v in reversed(fo.levels):
        sv = v[fo.inner[v] & emits[v]]
        size[sv] = 1 + size[res_left[sv]] + size[res_right[sv]]
    held = np.zeros(n, dtype=bool)
    pos = np.zeros(n, dtype=np.int64)
    held[resolved[fo.starts[fo.plain]]] = True
    for v in fo.levels:
        sv = v[fo.inner[v] & emits[v] & held[v]]
        held[res_left[sv]] = held[res_right[sv]] = True
        pos[res_left[sv]] = pos[sv] + 1
        pos[res_right[sv]] = pos[sv] + 1 + size[res_left[sv]]
    return pos, held


def rebuild_some(ens: Ensemble, keep: np.ndarray, rebuild: Callable[[Ensemble, np.ndarray], Ensemble]) -> Ensemble:
    """``ens`` with the trees ``keep`` marks as they are and the others replaced by
    ``rebuild(part, trees)``'s trees, ``part`` being ``ens`` with just those ``trees``."""
    if keep.all():
        return ens
    rest = np.flatnonzero(~keep)
    if not keep.any():
        return rebuild(ens, rest)
    part = ens.replace(trees=tuple(ens.trees[i] for i in rest.tolist()), tree_output=ens.tree_output[rest])
    trees = list(ens.trees)
    for i, tree in zip(rest.tolist(), rebuild(part, rest).trees):
        trees[i] = tree
    return ens.replace(trees=tuple(trees))
