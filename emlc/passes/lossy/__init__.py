"""Lossy passes: smaller or faster models that may change predictions, only when asked.

Each module states its error bound; none runs at any -O level. :mod:`.apply` runs
the chosen ones in a fixed order and measures what they cost on calibration data.
"""

from .cluster_leaves import cluster_leaves, distinct_leaf_rows, leaves_per_class
from .confidence_exit import confidence_exit, reorder_trees, votes_as_mean
from .hard_vote import hard_vote
from .quantize_leaves import quantize_leaves

__all__ = [
    "cluster_leaves",
    "confidence_exit",
    "distinct_leaf_rows",
    "hard_vote",
    "leaves_per_class",
    "quantize_leaves",
    "reorder_trees",
    "votes_as_mean",
]
