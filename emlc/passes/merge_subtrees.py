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
from .treebuild import ContentClasses, Forest, TreeBuilder, postorder


def _merge_tree(classes: ContentClasses, tree: Tree) -> Tree:
    b = TreeBuilder(classes, tree, share=True)
    is_leaf = (tree.op == Op.LEAF).tolist()
    left, right = tree.left.tolist(), tree.right.tolist()
    new = [0] * tree.n_nodes
    for i in postorder(tree):
        new[i] = b.leaf(i) if is_leaf[i] else b.split(i, new[left[i]], new[right[i]])
    return b.tree(new[0])


def _nothing_to_merge(ens: Ensemble, fo: Forest, classes: ContentClasses) -> np.ndarray:
    """Per tree, checked on all at once: plain (see :class:`Forest`) with pairwise different
    subtree hashes, so no two nodes share a class and no split collapses."""
    if not fo.levels:
        return fo.plain
    nodes = np.concatenate(fo.levels)
    hashes = fo.hashes(ens, classes)[nodes]
    tree = fo.tree_of[nodes]
    order = np.lexsort((hashes, tree))
    tree, hashes = tree[order], hashes[order]
    twins = (tree[1:] == tree[:-1]) & (hashes[1:] == hashes[:-1])
    plain = fo.plain.copy()
    plain[tree[1:][twins]] = False
    return plain


def merge_subtrees(ens: Ensemble) -> Ensemble:
    """Each tree hash-consed into a DAG of distinct subtrees."""
    classes, forest = ContentClasses.of(ens), Forest(ens)
    distinct = _nothing_to_merge(ens, forest, classes)
    copies = forest.in_preorder(ens)
    return ens.replace(trees=tuple(
        copy if keep else _merge_tree(classes, t) for t, keep, copy in zip(ens.trees, distinct, copies)
    ))
