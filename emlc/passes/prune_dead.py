"""``prune_dead``: drop what no input can reach.

Removes nodes unreachable from their tree's root (keeping the surviving nodes in
their original relative order), leaf-table rows no leaf refers to and category
sets no categorical node refers to. Lossless: every reachable node keeps its
test and its children, only indices change.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree
from .trees.tables import map_nodes, remap_leaves, used_leaf_rows
from .trees.walk import preorder, renumber


def _prune_tree(tree: Tree) -> Tree:
    return renumber(tree, sorted(preorder(tree)))


def _reachable(ens: Ensemble) -> np.ndarray:
    """Per tree, is every node reachable from its root? (One walk over all trees at once.)"""
    sizes = ens.node_counts()
    starts = np.cumsum(sizes) - sizes
    base = np.repeat(starts, sizes)
    inner = ens.column("op") != Op.LEAF
    left = ens.column("left") + base
    right = ens.column("right") + base
    seen = np.zeros(inner.size, dtype=bool)
    seen[starts] = True
    frontier = starts
    while frontier.size:
        frontier = frontier[inner[frontier]]
        children = np.concatenate([left[frontier], right[frontier]])
        frontier = children[~seen[children]]  # a node with two parents here may appear twice: harmless
        seen[frontier] = True
    return np.logical_and.reduceat(seen, starts) if seen.size else np.ones(0, dtype=bool)


def _drop_unused_sets(ens: Ensemble) -> Ensemble:
    op, cat = ens.column("op"), ens.column("cat")
    used = np.unique(cat[op == Op.CAT])
    if used.size == ens.cat_sets.shape[0]:
        return ens
    new = np.full(ens.cat_sets.shape[0], -1, dtype=np.int64)
    new[used] = np.arange(used.size)

    def rewrite(t: Tree) -> Tree:
        return t.replace(cat=np.where(t.cat >= 0, new[np.maximum(t.cat, 0)], -1).astype(np.int32))

    return map_nodes(ens, rewrite).replace(cat_sets=ens.cat_sets[used])


def prune_dead(ens: Ensemble) -> Ensemble:
    """Unreachable nodes, unused leaf rows and unused category sets removed."""
    whole = _reachable(ens)
    if not whole.all():
        ens = ens.replace(trees=tuple(t if ok else _prune_tree(t) for t, ok in zip(ens.trees, whole)))
    used = used_leaf_rows(ens)
    if used.size != ens.leaves.shape[0]:
        new = np.full(ens.leaves.shape[0], -1, dtype=np.int64)
        new[used] = np.arange(used.size)
        ens = remap_leaves(ens, new, ens.leaves[used])
    return _drop_unused_sets(ens)
