"""The typed tree-ensemble IR: data model, verifier, interpreter and text form."""

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
