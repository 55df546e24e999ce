"""Shared machinery for passes that rewrite trees: node renumbering and a tree builder.

Passes never edit node columns in place; they either renumber the reachable nodes
of a tree in a chosen order (:func:`renumber`) or emit a fresh tree bottom-up through
:class:`TreeBuilder`, which gives every emitted node a *structural class* (equal
classes compute the same leaf for every input) and, with ``share=True``, emits
each class once (hash-consing, which turns equal subtrees into one DAG node).
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree


def content_ids(table: np.ndarray) -> np.ndarray:
    """Per row of a 2-D table, the id of its first bitwise-equal row (-0.0 != 0.0)."""
    if table.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.ascontiguousarray(table).view(np.dtype((np.void, table.dtype.itemsize * table.shape[1])))[:, 0]
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)].astype(np.int64)


def preorder(tree: Tree, root: int = 0) -> list[int]:
    """Nodes reachable from ``root`` in depth-first, left-first preorder; shared nodes listed once."""
    seen = [False] * tree.n_nodes
    order: list[int] = []
    stack = [root]
    # Python lists and a local constant: numpy scalar indexing and enum lookups dominate otherwise.
    op, left, right, leaf = tree.op.tolist(), tree.left.tolist(), tree.right.tolist(), int(Op.LEAF)
    while stack:
        i = stack.pop()
        if seen[i]:
            continue
        seen[i] = True
        order.append(i)
        if op[i] != leaf:
            stack.append(right[i])
            stack.append(left[i])
    return order


def postorder(tree: Tree) -> list[int]:
    """Reachable nodes with every node after both of its children (a topological order)."""
    done = [False] * tree.n_nodes
    order: list[int] = []
    stack: list[tuple[int, bool]] = [(0, False)]
    op, left, right, leaf = tree.op.tolist(), tree.left.tolist(), tree.right.tolist(), int(Op.LEAF)
    while stack:
        i, expanded = stack.pop()
        if done[i]:
            continue
        if expanded or op[i] == leaf:
            done[i] = True
            order.append(i)
            continue
        stack.append((i, True))
        stack.append((right[i], False))
        stack.append((left[i], False))
    return order


def renumber(tree: Tree, order: Iterable[int]) -> Tree:
    """The tree with only the nodes in ``order``, numbered in that order (order[0] is the root)."""
    keep = np.asarray(list(order), dtype=np.int64)
    remap = np.full(tree.n_nodes, -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    cols = {c: getattr(tree, c)[keep] for c in Tree.COLUMNS}
    for c in ("left", "right"):
        old = cols[c]
        cols[c] = np.where(old >= 0, remap[np.maximum(old, 0)], -1).astype(np.int32)
    return Tree(**cols)


class TreeBuilder:
    """Emits nodes bottom-up and assembles them into a :class:`Tree` rooted at a chosen node.

    Node structural classes compare leaves by leaf-row content and categorical
    nodes by bitset content, so two subtrees with the same class route every input
    to equal leaf rows.
    """

    def __init__(self, ens: Ensemble, *, share: bool) -> None:
        self.share = share
        self.threshold_dtype = ens.threshold_dtype
        self._leaf_class = content_ids(ens.leaves)
        self._cat_class = content_ids(ens.cat_sets)
        self._rows: list[tuple] = []
        self._klass: list[int] = []
        self._classes: dict[tuple, int] = {}
        self._first: dict[int, int] = {}

    def klass(self, node: int) -> int:
        return self._klass[node]

    def _emit(self, key: tuple, row: tuple) -> int:
        k = self._classes.setdefault(key, len(self._classes))
        if self.share and k in self._first:
            return self._first[k]
        self._rows.append(row)
        self._klass.append(k)
        self._first.setdefault(k, len(self._rows) - 1)
        return len(self._rows) - 1

    def leaf(self, row: int) -> int:
        return self._emit(("leaf", int(self._leaf_class[row])), (Op.LEAF, -1, 0, False, -1, -1, row, -1))

    def split(self, op: int, feature: int, threshold, default_left: bool, left: int, right: int, cat: int) -> int:
        """A decision node; if both children are structurally equal, that child instead."""
        if self._klass[left] == self._klass[right]:
            return left
        t = np.asarray(threshold, dtype=self.threshold_dtype)
        cat_key = -1 if cat < 0 else int(self._cat_class[cat])
        missing = bool(default_left)
        key = ("split", int(op), int(feature), t.tobytes(), missing, self._klass[left], self._klass[right], cat_key)
        return self._emit(key, (int(op), int(feature), t[()], missing, left, right, -1, int(cat)))

    def tree(self, root: int) -> Tree:
        """The nodes reachable from ``root``, renumbered in preorder."""
        cols = list(zip(*self._rows))
        raw = Tree.build(
            op=cols[0], feature=cols[1], threshold=np.array(cols[2], dtype=self.threshold_dtype),
            default_left=cols[3], left=cols[4], right=cols[5], leaf=cols[6], cat=cols[7],
            threshold_dtype=str(self.threshold_dtype),
        )
        return renumber(raw, preorder(raw, root))


def map_trees(ens: Ensemble, rewrite: Callable[[Tree], Tree]) -> Ensemble:
    return ens.replace(trees=tuple(rewrite(t) for t in ens.trees))


def used_leaf_rows(ens: Ensemble) -> np.ndarray:
    """Sorted leaf-table rows referenced by some leaf node."""
    return np.unique(np.concatenate([t.leaf[t.op == Op.LEAF] for t in ens.trees]))


def remap_leaves(ens: Ensemble, new_row: np.ndarray, table: np.ndarray) -> Ensemble:
    """Point every leaf node at ``new_row[old]`` of a new leaf ``table``."""

    def rewrite(t: Tree) -> Tree:
        is_leaf = t.op == Op.LEAF
        leaf = np.where(is_leaf, new_row[np.maximum(t.leaf, 0)], -1).astype(np.int32)
        return t.replace(leaf=leaf)

    return map_trees(ens, rewrite).replace(leaves=table)
