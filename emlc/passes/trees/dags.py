"""DAG expansion: shared subtrees copied per path, so all-at-once rewrites of plain trees cover DAGs."""

from __future__ import annotations

import numpy as np

from ...ir.ensemble import Ensemble, Op, Tree
from .forest import Forest, tree_nodes
from .hashing import in_rank_order


#: a DAG is expanded into a tree for all-at-once rewrites while that takes at most this many copies per node.
MAX_COPIES = 8


def expand_dags(ens: Ensemble) -> tuple[Ensemble, np.ndarray]:
    """``ens`` with each tree that shares nodes replaced by its expansion (every shared
    subtree copied once per path to it, copies in level order), where the expansion is
    at most :data:`MAX_COPIES` times the tree and :attr:`Forest.MAX_LEVELS` deep; and per
    node of the result's trees back to back, the node it copies (ensemble-wide number;
    -1 in trees kept).

    Rewrites of plain trees then cover DAGs: a preorder of the expansion lists each
    node's first visit, and the fold walk, without memoised contexts, walks a DAG
    exactly as it walks the expansion.
    """
    sizes = ens.node_counts()
    fo = _Links(ens, sizes)
    children = np.concatenate([fo.left[fo.inner], fo.right[fo.inner]])
    dag = np.logical_or.reduceat(np.bincount(children, minlength=fo.inner.size) > 1, fo.starts)
    if not dag.any():
        return ens, np.full(fo.inner.size, -1, dtype=np.int64)
    n_trees = ens.n_trees
    ok = dag.copy()
    count = np.ones(n_trees, dtype=np.int64)
    orig = [fo.starts[dag]]  # per level: the nodes copied, their tree and local copy numbers
    tree = [np.flatnonzero(dag)]
    local = [np.zeros(int(dag.sum()), dtype=np.int64)]
    links: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per level: (parent copy, child copy, side)
    for _ in range(Forest.MAX_LEVELS):
        split = fo.inner[orig[-1]] & ok[tree[-1]]
        if not split.any():
            break
        # Copies stay grouped by tree, in tree order, level after level: number them by rank in the group.
        o, t, c = orig[-1][split], tree[-1][split], local[-1][split]
        kids = np.stack([fo.left[o], fo.right[o]], axis=1).ravel()
        kid_tree = np.repeat(t, 2)
        per_tree = np.bincount(kid_tree, minlength=n_trees)
        first = np.cumsum(per_tree) - per_tree
        numbers = count[kid_tree] + np.arange(kids.size) - first[kid_tree]
        count += per_tree
        ok &= count <= MAX_COPIES * sizes
        links.append((np.repeat(c, 2), numbers, np.tile([0, 1], o.size)))
        orig.append(kids)
        tree.append(kid_tree)
        local.append(numbers)
    else:
        ok &= ~np.isin(np.arange(n_trees), tree[-1][fo.inner[orig[-1]]])  # deeper than the level limit
    if not ok.any():
        return ens, np.full(fo.inner.size, -1, dtype=np.int64)
    o, t, c = (np.concatenate(x) for x in (orig, tree, local))
    keep = ok[t]
    o, t, c = o[keep], t[keep], c[keep]
    base = np.cumsum(count * ok) - count * ok
    at = base[t] + c  # each copy's place among all expanded trees' nodes
    total = int((count * ok).sum())
    src = np.empty(total, dtype=np.int64)
    src[at] = o
    cols = {name: ens.column(name)[src] for name in Tree.COLUMNS}
    for (parent, child, side), kt in zip(links, tree[1:]):
        use = ok[kt]
        where, child, side = base[kt[use]] + parent[use], child[use].astype(np.int32), side[use]
        cols["left"][where[side == 0]] = child[side == 0]
        cols["right"][where[side == 1]] = child[side == 1]
    ends = np.cumsum(count * ok)
    trees = list(ens.trees)
    for i in np.flatnonzero(ok).tolist():
        trees[i] = Tree(**{name: col[ends[i] - count[i]:ends[i]] for name, col in cols.items()})
    expanded = ens.replace(trees=tuple(trees))
    counts = expanded.node_counts()
    copies = np.full(int(counts.sum()), -1, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    copies[starts[t] + c] = o
    return expanded, copies


def preorder_numbers(ens: Ensemble) -> tuple[np.ndarray, np.ndarray]:
    """Per node (trees back to back) its number in its tree's :func:`preorder`, and per
    tree whether that was found here (not for trees too deep, or DAGs whose expansion
    is too big; their numbers are 0).

    A DAG's preorder lists each node at its first visit, and the walk visits a node's
    whole subtree on its first visit, so the order is that of each node's first copy in
    the preorder of the expansion (:func:`expand_dags`).
    """
    expanded, copies = expand_dags(ens)
    fo = Forest(expanded)
    pos = fo.positions()
    sizes = ens.node_counts()
    starts = np.cumsum(sizes) - sizes
    number = np.zeros(int(sizes.sum()), dtype=np.int64)
    copied = copies >= 0
    dag = fo.per_tree(copied)
    kept = np.flatnonzero(fo.plain & ~dag)
    nodes = fo.nodes_of(kept)
    number[nodes - np.repeat(fo.starts[kept] - starts[kept], sizes[kept])] = pos[nodes]
    trees = np.flatnonzero(fo.plain & dag)
    if trees.size:
        c = np.flatnonzero(copied & fo.plain[fo.tree_of])
        first = np.full(number.size, fo.op.size, dtype=np.int64)
        np.minimum.at(first, copies[c], fo.starts[fo.tree_of[c]] + pos[c])
        own = tree_nodes(starts, sizes, trees)
        ordered = in_rank_order(first[own], own, fo.op.size)
        number[ordered] = np.arange(ordered.size) - np.repeat(np.cumsum(sizes[trees]) - sizes[trees], sizes[trees])
    return number, fo.plain


class _Links:
    """All trees' child links with ensemble-wide node numbers (what expansion needs of a :class:`Forest`)."""

    def __init__(self, ens: Ensemble, sizes: np.ndarray) -> None:
        self.starts = np.cumsum(sizes) - sizes
        base = np.repeat(self.starts, sizes)
        self.inner = ens.column("op") != Op.LEAF
        self.left = np.where(self.inner, ens.column("left") + base, -1)
        self.right = np.where(self.inner, ens.column("right") + base, -1)
