"""``preorder_layout``: number nodes in depth-first, left-first preorder.

Then every node's left child is the next node unless that child was already placed
(a node shared in a DAG), so a table backend can store only the right child and
test ``left[i] == i + 1`` per node. Lossless: a renumbering.
"""

from __future__ import annotations

from ..ir.ensemble import Ensemble
from .treebuild import Forest, preorder, renumber


def preorder_layout(ens: Ensemble) -> Ensemble:
    """Every tree renumbered in preorder (left child next whenever possible).

    Trees without shared nodes are renumbered all at once (:meth:`Forest.in_preorder`).
    """
    return Forest(ens).in_preorder(ens, normalize=False).apply(ens, lambda t: renumber(t, preorder(t)))
