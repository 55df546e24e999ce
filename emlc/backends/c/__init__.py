"""The C backend: one header per model and target (:func:`emit_c`).

``emit`` is the entry point. ``plan`` decides everything the emitters share, once and
frozen (layout, feature access, types and keys, sums, exits), asking the modules that hold
each rule: ``numeric`` (threshold keys), ``fixed`` (integer sums), ``exit_checks`` (early
exit) and ``soft64`` (exact float64 near-ties, with its Python oracle ``soft_float64``).
``model`` is the emission context; each emitted part has its module: ``features``,
``walk_inline`` / ``walk_table``, ``leaf_tables``, ``sums``, ``exit_walk``, ``link`` and
``api``. ``common`` holds C literals, integer types and flash tables.
"""

from .emit import emit_c, flash_estimate, input_line, size_report

__all__ = ["emit_c", "flash_estimate", "input_line", "size_report"]
