"""``hard_vote``: every tree votes for one class, as emlearn's default trees do.

Each leaf row becomes the one-hot row of its first largest value (the tree's own
``predict``), the table shrinks to the ``n_classes`` one-hot rows (uint8, so a leaf's
row index is its class index) and aggregation becomes VOTE: the ensemble predicts
the class with the most votes, the lowest class index among ties. A base score has
no place in a vote and is dropped.

Error bound: none on probabilities (they become vote shares); the class changes
only for rows whose averaged probabilities and majority vote disagree, which
scikit-learn's forests show on a few percent of rows.
"""

from __future__ import annotations

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, Ensemble, Link, Task
from ..trees.tables import remap_leaves


def check_forest(ens: Ensemble, what: str) -> None:
    """Raise unless ``ens`` is a forest classifier: every tree scores all classes, averaged or voted."""
    forest = (
        ens.task is Task.CLASSIFICATION
        and ens.aggregation in (Aggregation.MEAN, Aggregation.VOTE)
        and ens.link is Link.IDENTITY
        and ens.leaf_width == ens.n_outputs == ens.n_classes
        and not np.asarray(ens.tree_output).any()
    )
    if not forest:
        raise EmlcError(
            f"{what} needs a forest classifier (each tree scoring every class, averaged or voted); "
            f"this is a {ens.task.value} model with {ens.aggregation.value} aggregation and "
            f"{ens.link.value} link: leave out {what}"
        )


def hard_vote(ens: Ensemble) -> Ensemble:
    """The ensemble as a majority vote of per-tree argmax classes."""
    check_forest(ens, "hard vote")
    k = ens.n_classes
    winners = np.argmax(ens.leaf_values(), axis=1)
    return remap_leaves(ens, winners, np.eye(k, dtype=np.uint8)).replace(
        aggregation=Aggregation.VOTE, leaf_scale=np.ones(k), base_score=np.zeros(k)
    )
