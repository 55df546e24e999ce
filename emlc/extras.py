"""Optional libraries and the pip extra that installs each.

``pip install emlc`` brings only what compiling a model file needs (numpy, lark,
llvmlite); the training libraries are extras. Code that needs one imports it
through :func:`require`, so a missing library is one line naming the extra, never a
``ModuleNotFoundError`` traceback.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from .errors import EmlcError

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


def missing(exc: ModuleNotFoundError, purpose: str) -> EmlcError:
    """The one-line error for ``exc`` raised while doing ``purpose``: the extra to install
    when an extra brings the module, else the module's name (a pickle of another library)."""
    top = (exc.name or str(exc)).split(".")[0]
    hint = install_hint(top)
    if hint is None:
        return EmlcError(f"{purpose} needs the module {top!r}, which is not installed")
    return EmlcError(f"{purpose} needs {top}, which is not installed; {hint}")


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module``; if its library is missing, an EmlcError naming the extra."""
    try:
        return import_module(module)
    except ModuleNotFoundError as exc:
        raise missing(exc, purpose) from None
