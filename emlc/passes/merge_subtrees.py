"""``merge_subtrees``: structurally equal subtrees of a tree become one shared node.

Hash-consing bottom-up: two nodes with the same test and structurally equal
children (leaves compared by leaf-row content) are emitted once, turning each tree
into a DAG; a split whose two children are equal is replaced by the child. Lossless:
a shared node computes what each copy computed. Trees are not merged with each
other, since each tree keeps its own root and output offset.
"""

from __future__ import annotations

from ..ir.ensemble import Ensemble, Op, Tree
from .treebuild import TreeBuilder, map_trees, postorder


def _merge_tree(ens: Ensemble, tree: Tree) -> Tree:
    b = TreeBuilder(ens, share=True)
    new: dict[int, int] = {}
    for i in postorder(tree):
        if tree.op[i] == Op.LEAF:
            new[i] = b.leaf(int(tree.leaf[i]))
        else:
            new[i] = b.split(
                tree.op[i], tree.feature[i], tree.threshold[i], tree.default_left[i],
                new[int(tree.left[i])], new[int(tree.right[i])], int(tree.cat[i]),
            )
    return b.tree(new[0])


def merge_subtrees(ens: Ensemble) -> Ensemble:
    """Each tree hash-consed into a DAG of distinct subtrees."""
    return map_trees(ens, lambda t: _merge_tree(ens, t))
