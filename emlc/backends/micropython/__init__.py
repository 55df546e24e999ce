"""The MicroPython backend: a Python module per model (:func:`emit_micropython`) or a CSV
model for emlc's or emlearn's runtime (:func:`emit_csv`).

``emit`` writes the module; ``lower`` flattens the forest both formats read;
``emlc_csv`` and ``emlearn_csv`` write the two CSV formats.
"""

from .emit import emit_csv, emit_micropython

__all__ = ["emit_csv", "emit_micropython"]
