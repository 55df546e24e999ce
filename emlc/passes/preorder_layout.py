"""``preorder_layout``: number nodes in depth-first, left-first preorder.

Then every node's left child is the next node unless that child was already placed
(a node shared in a DAG), so a table backend can store only the right child and
test ``left[i] == i + 1`` per node. Lossless: a renumbering.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree
from .trees.dags import preorder_numbers
from .trees.forest import tree_nodes
from .trees.rewrite import rebuild_some
from .trees.walk import preorder, renumber


def preorder_layout(ens: Ensemble) -> Ensemble:
    """Every tree renumbered in preorder (left child next whenever possible).

    Trees known to be in preorder (:attr:`Tree.in_preorder`, as every rebuilding pass
    leaves them) stay as they are. The others get their numbers all at once
    (:func:`preorder_numbers`, DAGs through their expansion): those already in preorder
    stay too, the rest are renumbered together, and the few the expansion does not
    cover one by one.
    """
    return rebuild_some(ens, np.array([t.in_preorder for t in ens.trees]), _layout)


def _layout(ens: Ensemble, _trees: np.ndarray) -> Ensemble:
    number, found = preorder_numbers(ens)
    sizes = ens.node_counts()
    starts = np.cumsum(sizes) - sizes
    moved = np.logical_or.reduceat(number != np.arange(number.size) - np.repeat(starts, sizes), starts)
    if found.all() and not moved.any():
        for tree in ens.trees:
            tree.mark_preorder()
        return ens
    new = iter(_renumbered(ens, number, np.flatnonzero(found & moved)))
    return ens.replace(trees=tuple(
        ((next(new) if moved[i] else tree) if found[i] else renumber(tree, preorder(tree))).mark_preorder()
        for i, tree in enumerate(ens.trees)
    ))


def _renumbered(ens: Ensemble, number: np.ndarray, trees: np.ndarray) -> list[Tree]:
    """``trees`` with node ``v`` renumbered ``number[v]`` (what :func:`renumber` makes), all at once."""
    sizes = ens.node_counts()
    starts = np.cumsum(sizes) - sizes
    size = sizes[trees]
    base = np.cumsum(size) - size
    nodes = tree_nodes(starts, sizes, trees)
    old = np.empty(nodes.size, dtype=np.int64)
    old[np.repeat(base, size) + number[nodes]] = nodes
    cols = {c: ens.column(c)[old] for c in Tree.COLUMNS}
    inner = cols["op"] != Op.LEAF
    shift = np.repeat(starts[trees], size)
    for side in ("left", "right"):
        cols[side] = np.where(inner, number[np.maximum(cols[side] + shift, 0)], -1).astype(np.int32)
    return Tree.cut(cols, size.tolist())
