"""emlc: an optimizing compiler for tree ensembles on microcontrollers.

The API in one breath::

    ens = emlc.load(fitted_model_or_file)          # -> Ensemble (the IR)
    result = emlc.optimize(ens, level="O2", target="avr")
    header = emlc.emit_c(result.ensemble, target="avr", name="model")
    emlc.interpret(ens, X)                           # the reference semantics
    emlc.jit(ens).predict(X)                         # fast host predictions
    emlc.load_predictor(path)                        # a predictor saved with .save(path)
    emlc.compile(model, target="avr").code           # all of the above, as the CLI does

Backends load lazily, so ``import emlc`` stays cheap.
"""

from importlib import import_module
from typing import Any

from .errors import EmlcError, IRError, RecompileWarning
from .frontends import load
from .ir import (
    Ensemble,
    Tree,
    interpret,
    interpret_proba,
    interpret_raw,
    interpret_value,
)
from .ir.text import parse_ir, print_ir
from .ir.verify import verify

__version__ = "0.1.0"

_LAZY = {
    "optimize": "emlc.passes",
    "compile": "emlc.api",
    "convert": "emlc.api",
    "emit": "emlc.api",
    "declare_input": "emlc.api",
    "emit_c": "emlc.backends.c",
    "emit_csv": "emlc.backends.micropython",
    "emit_micropython": "emlc.backends.micropython",
    "emit_llvm": "emlc.backends.llvm",
    "emit_obj": "emlc.backends.llvm",
    "jit": "emlc.backends.llvm",
    "load_predictor": "emlc.backends.llvm.predictor_file",
    "get_target": "emlc.targets",
    "TARGETS": "emlc.targets",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emlc' has no attribute {name!r}")


__all__ = [
    "EmlcError",
    "Ensemble",
    "IRError",
    "RecompileWarning",
    "Tree",
    "__version__",
    "interpret",
    "interpret_proba",
    "interpret_raw",
    "interpret_value",
    "load",
    "parse_ir",
    "print_ir",
    "verify",
    *_LAZY,
]
