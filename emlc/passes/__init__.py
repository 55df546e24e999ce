"""Optimisation passes over the IR and the pass manager that runs them.

- ``manager``: the registry, -O levels, ``optimize`` (verifying before and after).
- one module per lossless pass (``prune_dead``, ``fold_redundant_splits``,
  ``quantize_thresholds``, ``rank_features``, ``merge_subtrees``, ``dedup_leaves``,
  ``narrow_types``, ``preorder_layout``, ``early_exit``), each a pure function whose
  docstring says why it changes no prediction.
- ``trees/``: what tree-rewriting passes share (walks, the forest view, structural
  hashing, rewriting, DAG expansion, whole-ensemble node tables).
- ``cost``: flash estimates per layout and the layout choice.
- ``lossy/``: opt-in lossy passes, each reporting what it cost.
"""

from .manager import LEVELS, PASSES, OptimizeResult, Pass, PassReport, optimize, pipeline

__all__ = ["LEVELS", "PASSES", "OptimizeResult", "Pass", "PassReport", "optimize", "pipeline"]
