"""The C backend: one header per model and target (:func:`emit_c`).

``emit`` is the entry point; ``model`` decides types, keys, accumulation and exits;
``numeric`` (threshold keys), ``fixed`` (integer sums), ``exit_checks`` (early exit) and
``soft64`` (exact float64 near-ties, with its Python oracle ``soft_float64``) hold one
decision each; ``walk_inline`` and ``walk_table`` write the two tree layouts; ``common``
holds C literals, integer types and flash tables.
"""

from .emit import emit_c, input_line, size_report

__all__ = ["emit_c", "input_line", "size_report"]
