"""Backends: turn an optimized IR into code for a target."""

from .c import emit_c, size_report

__all__ = ["emit_c", "size_report"]
