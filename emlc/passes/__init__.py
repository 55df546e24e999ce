"""Optimisation passes over the IR and the pass manager that runs them."""

from .manager import LEVELS, PASSES, OptimizeResult, Pass, PassReport, optimize, pipeline

__all__ = ["LEVELS", "PASSES", "OptimizeResult", "Pass", "PassReport", "optimize", "pipeline"]
