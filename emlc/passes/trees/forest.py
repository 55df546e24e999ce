"""The forest view: every tree's nodes back to back, for checks on all trees at once.

Passes decide most rewrites on whole-ensemble columns level by level; this module holds
that view (:class:`Forest`) and the per-tree facts read from it (:func:`settled`).
"""

from __future__ import annotations

import numpy as np

from ...ir.ensemble import Ensemble, Op, Tree


class Forest:
    """All trees' nodes back to back (global child numbers), for checks on every tree at once.

    A tree is *plain* when no node has two parents and it is at most
    :attr:`MAX_LEVELS` deep; ``levels`` lists the plain trees' nodes level by level.
    """

    MAX_LEVELS = 64

    def __init__(self, ens: Ensemble) -> None:
        sizes = ens.node_counts()
        self.starts = np.cumsum(sizes) - sizes
        base = np.repeat(self.starts, sizes)
        self.tree_of = np.repeat(np.arange(len(ens.trees)), sizes)

        self._positions: np.ndarray | None = None
        self._sizes: np.ndarray | None = None
        column = ens.column
        self.op, self.feature = column("op").astype(np.int64), column("feature").astype(np.int64)
        self.dl, self.leaf, self.cat = column("default_left"), column("leaf"), column("cat")
        self.inner = self.op != Op.LEAF
        self.left = np.where(self.inner, column("left") + base, -1)
        self.right = np.where(self.inner, column("right") + base, -1)
        threshold = column("threshold")
        self.bits = threshold.view(f"u{threshold.dtype.itemsize}").astype(np.uint64)
        children = np.concatenate([self.left[self.inner], self.right[self.inner]])
        self.plain = ~self.per_tree(np.bincount(children, minlength=self.op.size) > 1)
        self.levels: list[np.ndarray] = []
        frontier = self.starts[self.plain]  # a level walk would repeat shared nodes
        while frontier.size:
            if len(self.levels) == self.MAX_LEVELS:
                self.plain[np.unique(np.searchsorted(self.starts, frontier, side="right") - 1)] = False
                break
            self.levels.append(frontier)
            split = frontier[self.inner[frontier]]
            frontier = np.concatenate([self.left[split], self.right[split]])
        seen = np.zeros(self.op.size, dtype=bool)
        for level in self.levels:
            seen[level] = True
        self.plain &= np.logical_and.reduceat(seen, self.starts)  # unreachable nodes: not plain

    def subtree_sizes(self) -> np.ndarray:
        """Nodes in each plain tree node's subtree (1 elsewhere), from the deepest level up (read-only)."""
        if self._sizes is not None:
            return self._sizes
        size = np.ones(self.op.size, dtype=np.int64)
        for v in reversed(self.levels):
            sv = v[self.inner[v]]
            size[sv] = 1 + size[self.left[sv]] + size[self.right[sv]]
        size.flags.writeable = False
        self._sizes = size
        return size

    def positions(self) -> np.ndarray:
        """Each plain tree node's preorder position within its tree (0 elsewhere; read-only)."""
        if self._positions is not None:
            return self._positions
        n = self.op.size
        size = self.subtree_sizes()
        pos = np.zeros(n, dtype=np.int64)
        for v in self.levels:
            sv = v[self.inner[v]]
            pos[self.left[sv]] = pos[sv] + 1
            pos[self.right[sv]] = pos[sv] + 1 + size[self.left[sv]]
        pos.flags.writeable = False
        self._positions = pos
        return pos

    def per_tree(self, mask: np.ndarray) -> np.ndarray:
        """Per tree, does ``mask`` hold at some node?"""
        return np.logical_or.reduceat(mask, self.starts)

    def nodes_of(self, trees: np.ndarray) -> np.ndarray:
        """The nodes of ``trees`` (sorted tree numbers), back to back."""
        return tree_nodes(self.starts, np.diff(np.append(self.starts, self.op.size)), trees)


def tree_nodes(starts: np.ndarray, sizes: np.ndarray, trees: np.ndarray) -> np.ndarray:
    """The nodes of ``trees`` (sorted), back to back, for trees of ``sizes`` nodes from ``starts``."""
    size = sizes[trees]
    return np.arange(int(size.sum())) + np.repeat(starts[trees] - (np.cumsum(size) - size), size)


#: the mark :func:`mark_settled` sets in a tree's ``__dict__`` (a fact about its columns, which never change).
_SETTLED = "_settled"


def mark_settled(tree: Tree) -> Tree:
    """Record that ``tree`` is settled (see :func:`settled`), as its builder knows."""
    tree.__dict__[_SETTLED] = True
    return tree.mark_preorder()


def marked_settled(tree: Tree) -> bool:
    """Has a builder or an earlier :func:`settled` recorded that ``tree`` is settled?"""
    return _SETTLED in tree.__dict__


def settled(fo: Forest, ens: Ensemble) -> np.ndarray:
    """Per tree of ``ens``: plain, numbered in preorder and normalised (leaves without feature,
    threshold bits or default), so a rebuild that keeps every node returns it unchanged.

    Found trees are marked, so when every tree is (fold keeps or builds only such trees,
    and merge runs next) the check costs one look per tree.
    """
    known = np.array([marked_settled(t) for t in ens.trees], dtype=bool)
    if known.all():
        return known
    local = np.arange(fo.op.size) - np.repeat(fo.starts, ens.node_counts())
    ordered = fo.plain & ~fo.per_tree(fo.positions() != local)
    for i in np.flatnonzero(ordered).tolist():
        ens.trees[i].mark_preorder()
    leaf = ~fo.inner
    loose = leaf & ((fo.feature != -1) | (fo.bits != 0) | fo.dl)
    found = ordered & ~fo.per_tree(loose)
    for i in np.flatnonzero(found).tolist():
        mark_settled(ens.trees[i])
    return found
