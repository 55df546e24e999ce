"""emlc: an optimizing compiler for tree ensembles on microcontrollers."""

from .errors import EmlcError, IRError
from .ir import (
    Ensemble,
    Tree,
    interpret,
    interpret_proba,
    interpret_raw,
    interpret_value,
)
from .frontends import load

__version__ = "0.1.0"

__all__ = [
    "EmlcError",
    "Ensemble",
    "IRError",
    "Tree",
    "__version__",
    "interpret",
    "interpret_proba",
    "interpret_raw",
    "interpret_value",
    "load",
]
