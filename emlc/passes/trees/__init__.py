"""Machinery the tree-rewriting passes share, one module per concern.

- ``walk``: per-tree preorder/postorder and renumbering (iterative, any depth).
- ``forest``: :class:`~.forest.Forest`, every tree's nodes back to back for checks on all
  trees at once, and which trees are already settled (plain, preorder, normalised).
- ``hashing``: content ids of leaf rows and category sets, structural-class hashes of
  nodes and the collision check that makes hashes safe to group by.
- ``rewrite``: :class:`~.rewrite.RewrittenTreeBuilder` (per-tree, hash-consing) and node
  copying for all-at-once rewrites; rebuilding only the trees that change.
- ``dags``: expanding shared subtrees into trees, and preorder numbers of DAGs.
- ``tables``: rewritten trees as whole-ensemble columns, per-node maps, leaf remapping.
"""
