"""The typed tree-ensemble IR every frontend produces and every pass and backend reads.

- ``ensemble``: the data model (``Ensemble``, struct-of-arrays ``Tree``, enums for task,
  aggregation, link, decision, ops), immutable; per-column caches over all trees.
- ``verify``: the invariants every pass keeps; ``IRError`` names the broken one.
- ``interpret``: the reference interpreter, the oracle of every test.
- ``ranges``: what each tree can add to each output (bounds for exact early exits).
- ``text`` / ``text.lark``: the stable text form (``--emit ir``, ``.emlir`` files).
"""

from .ensemble import (
    Aggregation,
    Decision,
    EarlyExit,
    Ensemble,
    FeatureRank,
    Link,
    LinkMath,
    Op,
    Task,
    Tree,
)
from .interpret import interpret, interpret_proba, interpret_raw, interpret_value, leaf_indices

__all__ = [
    "Aggregation",
    "Decision",
    "EarlyExit",
    "Ensemble",
    "FeatureRank",
    "Link",
    "LinkMath",
    "Op",
    "Task",
    "Tree",
    "interpret",
    "interpret_proba",
    "interpret_raw",
    "interpret_value",
    "leaf_indices",
]
