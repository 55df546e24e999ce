"""Whole-ensemble node tables: rewritten trees as one set of columns, and leaf-row remapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...ir.ensemble import Ensemble, Op, Tree


@dataclass(frozen=True, eq=False)
class NodeTable:
    """Rewritten trees as whole-ensemble node columns: tree ``i`` is the next ``sizes[i]``
    nodes where ``ok[i]``; the other trees are left to a per-tree path. Every rewrite
    numbers its trees in preorder (each node at its first visit)."""

    columns: dict[str, np.ndarray]
    sizes: np.ndarray
    ok: np.ndarray

    @staticmethod
    def empty(n_trees: int) -> "NodeTable":
        return NodeTable({}, np.zeros(n_trees, dtype=np.int64), np.zeros(n_trees, dtype=bool))

    def trees(self) -> list[Tree | None]:
        return [t.mark_preorder() if ok else None for t, ok in zip(Tree.cut(self.columns, self.sizes.tolist()), self.ok.tolist())]

    def apply(self, ens: Ensemble, per_tree: Callable[[Tree], Tree]) -> Ensemble:
        """``ens`` with these trees, and ``per_tree`` of the original for the others; when
        every tree is here the columns become the result's :meth:`Ensemble.column` cache."""
        if self.ok.all():
            out = ens.with_node_columns(self.columns, self.sizes.tolist())
            for tree in out.trees:
                tree.mark_preorder()
            return out
        return ens.replace(trees=tuple(
            new if new is not None else per_tree(old) for old, new in zip(ens.trees, self.trees())
        ))


def map_nodes(ens: Ensemble, rewrite: Callable[[Tree], Tree]) -> Ensemble:
    """``rewrite`` applied to every tree's nodes at once, for rewrites that treat each node
    on its own (never through its child links): it gets all node columns back to back as
    one table, whose columns are cut back into trees (one numpy step per column instead
    of one per tree and column)."""
    out = rewrite(Tree(**{c: ens.column(c) for c in Tree.COLUMNS}))
    result = ens.with_node_columns({c: getattr(out, c) for c in Tree.COLUMNS}, ens.node_counts().tolist())
    for old, new in zip(ens.trees, result.trees):  # the same numbering
        if old.in_preorder:
            new.mark_preorder()
    return result


def used_leaves(ens: Ensemble) -> np.ndarray:
    """The leaf-table row of every leaf node, in tree and node order."""
    op, leaf = ens.column("op"), ens.column("leaf")
    return leaf[op == Op.LEAF]


def used_leaf_rows(ens: Ensemble) -> np.ndarray:
    """Sorted leaf-table rows referenced by some leaf node."""
    used = np.zeros(ens.leaves.shape[0], dtype=bool)
    used[used_leaves(ens)] = True
    return np.flatnonzero(used)


def remap_leaves(ens: Ensemble, new_row: np.ndarray, table: np.ndarray) -> Ensemble:
    """Point every leaf node at ``new_row[old]`` of a new leaf ``table``."""

    def rewrite(t: Tree) -> Tree:
        is_leaf = t.op == Op.LEAF
        leaf = np.where(is_leaf, new_row[np.maximum(t.leaf, 0)], -1).astype(np.int32)
        return t.replace(leaf=leaf)

    return map_nodes(ens, rewrite).replace(leaves=table)
