"""The LLVM backend: LLVM IR text, object files for avr / thumbv6m / riscv32, and the host
predictor (:func:`jit`).

``emit`` holds the entry points and target machines; ``codegen`` writes the module;
``exit_checks`` the early-exit functions; ``builder`` the IR-text function builder and
literals they share; ``predictor`` and ``predictor_file``
the host predictor and its saved form.
"""

from .emit import TARGETS, emit_llvm, emit_obj
from .predictor import jit

__all__ = ["TARGETS", "emit_llvm", "emit_obj", "jit"]
