"""Per-tree walks: preorder, postorder and renumbering by a chosen order.

Iterative (no recursion: a 3,000-deep tree goes through every pass), reading the child
columns once as Python lists.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ...ir.ensemble import Op, Tree


def preorder(tree: Tree, root: int = 0) -> list[int]:
    """Nodes reachable from ``root`` in depth-first, left-first preorder; shared nodes listed once."""
    return preorder_of_links(tree.left.tolist(), tree.right.tolist(), root)


def preorder_of_links(left: list[int], right: list[int], root: int) -> list[int]:
    """:func:`preorder` on child lists (-1 on leaves), read as Python lists for speed."""
    seen = [False] * len(left)
    order: list[int] = []
    stack = [root]
    while stack:
        i = stack.pop()
        if seen[i]:
            continue
        seen[i] = True
        order.append(i)
        if left[i] >= 0:
            stack.append(right[i])
            stack.append(left[i])
    return order


def postorder(tree: Tree) -> list[int]:
    """Reachable nodes with every node after both of its children (a topological order)."""
    done = [False] * tree.n_nodes
    order: list[int] = []
    stack: list[tuple[int, bool]] = [(0, False)]
    op, left, right, leaf = tree.op.tolist(), tree.left.tolist(), tree.right.tolist(), int(Op.LEAF)
    while stack:
        i, expanded = stack.pop()
        if done[i]:
            continue
        if expanded or op[i] == leaf:
            done[i] = True
            order.append(i)
            continue
        stack.append((i, True))
        stack.append((right[i], False))
        stack.append((left[i], False))
    return order


def renumber(tree: Tree, order: Iterable[int]) -> Tree:
    """The tree with only the nodes in ``order``, numbered in that order (order[0] is the root)."""
    keep = np.asarray(list(order), dtype=np.int64)
    remap = np.full(tree.n_nodes, -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    cols = {c: getattr(tree, c)[keep] for c in Tree.COLUMNS}
    for c in ("left", "right"):
        old = cols[c]
        cols[c] = np.where(old >= 0, remap[np.maximum(old, 0)], -1).astype(np.int32)
    return Tree(**cols)
