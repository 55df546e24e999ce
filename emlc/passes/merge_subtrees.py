"""``merge_subtrees``: structurally equal subtrees of a tree become one shared node.

Hash-consing bottom-up: two nodes with the same test and structurally equal
children (leaves compared by leaf-row content) are emitted once, turning each tree
into a DAG; a split whose two children are equal is replaced by the child. Lossless:
a shared node computes what each copy computed. Trees are not merged with each
other, since each tree keeps its own root and output offset.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree
from .treebuild import (
    ContentClasses, Forest, NodeTable, TreeBuilder, _mix, hash_collision, in_rank_order, node_keys, own_hashes,
    postorder,
)


def _merge_tree(classes: ContentClasses, tree: Tree) -> Tree:
    b = TreeBuilder(classes, tree, share=True)
    is_leaf = (tree.op == Op.LEAF).tolist()
    left, right = tree.left.tolist(), tree.right.tolist()
    new = [0] * tree.n_nodes
    for i in postorder(tree):
        new[i] = b.leaf(i) if is_leaf[i] else b.split(i, new[left[i]], new[right[i]])
    return b.tree(new[0])


def _class_hashes(fo: Forest, keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node of the plain trees, bottom-up one level at a time: its structural class
    as a 64-bit hash, whether it collapses (equal children: it is its left child) and
    the node it resolves to."""
    n = fo.op.size
    h = np.zeros(n, dtype=np.uint64)
    collapsed = np.zeros(n, dtype=bool)
    resolved = np.arange(n)
    own = own_hashes(keys)
    with np.errstate(over="ignore"):
        for v in reversed(fo.levels):
            lv, sv = v[~fo.inner[v]], v[fo.inner[v]]
            h[lv] = own[lv]
            hl, hr = h[fo.left[sv]], h[fo.right[sv]]
            same = hl == hr
            h[sv] = np.where(same, hl, _mix(_mix(own[sv], hl), hr))
            collapsed[sv] = same
            resolved[sv] = np.where(same, resolved[fo.left[sv]], sv)
    return h, collapsed, resolved


def _merge_plain(ens: Ensemble, fo: Forest, classes: ContentClasses) -> NodeTable:
    """:func:`_merge_tree` on every plain tree at once (not the others), or on none if two
    different classes share a hash (then the walk decides).

    A class is emitted once, as its first node in postorder (whose leaf row and category
    set the copy keeps); the result lists the classes met in a preorder walk of the tree
    with collapsed splits replaced by their left child, each at its first visit.
    """
    none = NodeTable.empty(ens.n_trees)
    if not fo.levels:
        return none
    keys = node_keys(fo, classes)
    h, collapsed, resolved = _class_hashes(fo, keys)
    nodes = np.concatenate(fo.levels)
    tree, n = fo.tree_of, fo.op.size
    # Postorder rank within each tree (a subtree occupies [start, start + size)), then
    # all plain trees' nodes in postorder, tree after tree.
    size = np.ones(n, dtype=np.int64)
    for v in reversed(fo.levels):
        sv = v[fo.inner[v]]
        size[sv] = 1 + size[fo.left[sv]] + size[fo.right[sv]]
    start = np.zeros(n, dtype=np.int64)
    for v in fo.levels:
        sv = v[fo.inner[v]]
        start[fo.left[sv]] = start[sv]
        start[fo.right[sv]] = start[sv] + size[fo.left[sv]]
    by_post = in_rank_order(fo.starts[tree[nodes]] + start[nodes] + size[nodes] - 1, nodes, n)
    # Class groups (tree, class) among uncollapsed nodes, which every class has (collapsed
    # nodes resolve to one): a stable sort by a hash of both keeps postorder within a group,
    # so a group's representative comes first. Equal hashes must mean equal keys.
    keyed = by_post[~collapsed[by_post]]
    with np.errstate(over="ignore"):
        group_hash = _mix(h, tree)
    order = keyed[np.argsort(group_hash[keyed], kind="stable")]
    if hash_collision(fo, h, keys, order, group_hash):
        return none
    pair = group_hash[order[1:]] == group_hash[order[:-1]]
    new_group = np.concatenate([[True], ~pair])
    group = np.full(n, -1, dtype=np.int64)
    group[order] = np.cumsum(new_group) - 1
    rep = order[new_group]
    group[nodes] = group[resolved[nodes]]
    # Preorder of the collapsed tree (effective children skip collapsed splits); each
    # class is kept at its first visit.
    eff_left = np.where(fo.inner, resolved[np.maximum(fo.left, 0)], -1)
    eff_right = np.where(fo.inner, resolved[np.maximum(fo.right, 0)], -1)
    esize = np.ones(n, dtype=np.int64)
    for v in reversed(fo.levels):
        sv = v[fo.inner[v] & ~collapsed[v]]
        esize[sv] = 1 + esize[eff_left[sv]] + esize[eff_right[sv]]
    live = np.zeros(n, dtype=bool)
    pos = np.zeros(n, dtype=np.int64)
    live[resolved[fo.starts[fo.plain]]] = True
    for v in fo.levels:
        sv = v[fo.inner[v] & live[v]]
        live[eff_left[sv]] = live[eff_right[sv]] = True
        pos[eff_left[sv]] = pos[sv] + 1
        pos[eff_right[sv]] = pos[sv] + 1 + esize[eff_left[sv]]
    seen = nodes[live[nodes]]
    by_pre = in_rank_order(fo.starts[tree[seen]] + pos[seen], seen, n)
    first = np.full(rep.size, by_pre.size)
    np.minimum.at(first, group[by_pre], np.arange(by_pre.size))
    kept = by_pre[first[group[by_pre]] == np.arange(by_pre.size)]
    counts = np.bincount(tree[kept], minlength=ens.n_trees)
    local = np.arange(kept.size) - np.repeat(np.cumsum(counts) - counts, counts)
    number = np.zeros(rep.size, dtype=np.int64)
    number[group[kept]] = local
    src = rep[group[kept]]
    is_inner = fo.inner[src]
    cols = {c: ens.column(c)[src] for c in Tree.COLUMNS}
    cols["left"] = np.where(is_inner, number[group[np.maximum(fo.left[src], 0)]], -1).astype(np.int32)
    cols["right"] = np.where(is_inner, number[group[np.maximum(fo.right[src], 0)]], -1).astype(np.int32)
    cols["feature"][~is_inner] = -1
    cols["threshold"][~is_inner] = 0
    cols["default_left"][~is_inner] = False
    cols["cat"][~is_inner] = -1
    cols["leaf"][is_inner] = -1
    return NodeTable(cols, counts, fo.plain)


def merge_subtrees(ens: Ensemble) -> Ensemble:
    """Each tree hash-consed into a DAG of distinct subtrees."""
    classes, forest = ContentClasses.of(ens), Forest(ens)
    return _merge_plain(ens, forest, classes).apply(ens, lambda t: _merge_tree(classes, t))
