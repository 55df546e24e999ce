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
from .merge_subtrees_bulk import merge_plain
from .trees.forest import Forest, settled
from .trees.hashing import ContentClasses
from .trees.rewrite import RewrittenTreeBuilder, rebuild_some
from .trees.walk import postorder


def _merge_tree(classes: ContentClasses, tree: Tree) -> Tree:
    b = RewrittenTreeBuilder(classes, tree, share=True)
    is_leaf = (tree.op == Op.LEAF).tolist()
    left, right = tree.left.tolist(), tree.right.tolist()
    new = [0] * tree.n_nodes
    for i in postorder(tree):
        new[i] = b.leaf(i) if is_leaf[i] else b.split(i, new[left[i]], new[right[i]])
    return b.tree(new[0])


def merge_subtrees(ens: Ensemble) -> Ensemble:
    """Each tree hash-consed into a DAG of distinct subtrees.

    A tree merges or collapses nothing unless two of its leaves have equal rows (equal
    subtrees have equal leftmost leaves, a collapsing split equal children); the other
    trees, when settled (see :func:`settled`), are kept as they are and only the rest rebuilt.
    """
    classes, forest = ContentClasses.of(ens), Forest(ens)
    keep = ~_leaf_twins(forest, classes)
    if keep.any():
        keep &= settled(forest, ens)

    def merge(part: Ensemble, trees: np.ndarray) -> Ensemble:
        fo = forest if trees.size == ens.n_trees else Forest(part)
        return merge_plain(part, fo, classes).apply(part, lambda t: _merge_tree(classes, t))

    return rebuild_some(ens, keep, merge)


def _leaf_twins(fo: Forest, classes: ContentClasses) -> np.ndarray:
    """Per tree: do two of its leaf nodes have equal leaf rows?"""
    leaves = np.flatnonzero(~fo.inner)
    rows = classes.rows.size
    key = np.sort(fo.tree_of[leaves] * rows + classes.rows[fo.leaf[leaves]])
    twins = np.zeros(fo.starts.size, dtype=bool)
    twins[key[1:][key[1:] == key[:-1]] // rows] = True
    return twins
