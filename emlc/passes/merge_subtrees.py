"""``merge_subtrees``: structurally equal subtrees of a tree become one shared node.

Hash-consing bottom-up: two nodes with the same test and structurally equal
children (leaves compared by leaf-row content) are emitted once, turning each tree
into a DAG; a split whose two children are equal is replaced by the child. Lossless:
a shared node computes what each copy computed. Trees are not merged with each
other, since each tree keeps its own root and output offset.
"""

from __future__ import annotations

from ..ir.ensemble import Ensemble, Op, Tree
from .treebuild import ContentClasses, TreeBuilder, map_trees, postorder


def _merge_tree(classes: ContentClasses, tree: Tree) -> Tree:
    b = TreeBuilder(classes, tree, share=True)
    is_leaf = (tree.op == Op.LEAF).tolist()
    left, right = tree.left.tolist(), tree.right.tolist()
    new = [0] * tree.n_nodes
    for i in postorder(tree):
        new[i] = b.leaf(i) if is_leaf[i] else b.split(i, new[left[i]], new[right[i]])
    return b.tree(new[0])


def merge_subtrees(ens: Ensemble) -> Ensemble:
    """Each tree hash-consed into a DAG of distinct subtrees."""
    classes = ContentClasses.of(ens)
    return map_trees(ens, lambda t: _merge_tree(classes, t))
