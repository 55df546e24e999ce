"""The C backend: one header per model and target (:func:`emit_c`).

``emit`` is the entry point. ``plan`` decides everything the emitters share, once and
frozen (layout, feature access, types and keys, sums, exits), asking the modules that hold
each rule: ``numeric`` (threshold keys), ``fixed`` (integer sums), ``exit_checks`` (early
exit) and ``soft64`` (exact float64 near-ties, with its Python oracle ``soft_float64``).
``points`` chooses among the shapes a build can take (layout, walk) by the cost model's
flash and cycle estimates within the flash budget. ``model`` is the emission context; each emitted part has its module: ``features``,
``walk_inline`` / ``walk_table``, ``leaf_tables``, ``sums``, ``exit_walk``, ``link`` and
``api``. ``common`` holds C literals, integer types and flash tables.
"""

from .emit import Header, emit_c, flash_estimate, header, input_line, size_report
from .points import Choice, choose

__all__ = ["Choice", "Header", "choose", "emit_c", "flash_estimate", "header", "input_line", "size_report"]
