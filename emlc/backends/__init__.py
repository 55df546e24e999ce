"""Backends: turn an optimized IR into code for a target.

One subpackage per output language, each with one public entry point:
``c`` (:func:`emit_c`, C headers for every target), ``llvm`` (:func:`emit_llvm`,
:func:`emit_obj` and the host predictor :func:`jit`) and ``micropython``
(:func:`emit_micropython` and the CSV formats, :func:`emit_csv`). ``fixed_point`` is the
integer-sum analysis the C and MicroPython backends share.
"""

from .c import emit_c, size_report

__all__ = ["emit_c", "size_report"]
