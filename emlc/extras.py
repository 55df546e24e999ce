"""Optional libraries and the pip extra that installs each.

``pip install emlc`` brings only what compiling a model file needs (numpy, lark,
llvmlite); the training libraries are extras. Code that needs one imports it
through :func:`require`, so a missing library is one line naming the extra, never a
``ModuleNotFoundError`` traceback.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

#: top-level module -> the extra (or package) that installs it.
EXTRAS = {
    "sklearn": "emlc[sklearn]",
    "xgboost": "emlc[xgboost]",
    "lightgbm": "emlc[lightgbm]",
    "onnx": "emlc[onnx]",
    "skops": "emlc[skops]",
    "matplotlib": "emlc[plot]",
    "joblib": "joblib",
}


def install_hint(module: str) -> str | None:
    """``pip install '...'`` for a missing top-level module emlc knows, else None."""
    extra = EXTRAS.get(module.split(".")[0])
    return None if extra is None else f"pip install '{extra}'"


def missing(exc: ModuleNotFoundError, purpose: str) -> Exception:
    """The one-line error for ``exc`` raised while doing ``purpose`` (``exc`` itself when
    the module is not one an extra installs: then it is a bug, not a missing extra)."""
    from .errors import EmlcError

    name = exc.name or ""
    hint = install_hint(name)
    if hint is None:
        return exc
    return EmlcError(f"{purpose} needs {name.split('.')[0]}, which is not installed; {hint}")


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module``; if its library is missing, an EmlcError naming the extra."""
    try:
        return import_module(module)
    except ModuleNotFoundError as exc:
        raise missing(exc, purpose) from None
