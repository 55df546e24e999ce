"""Where emlc's bundled, non-Python files live (runtime sources, examples)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def runtime_dir() -> Path:
    """The `runtime/` folder: the repo's top level in a checkout, or the packaged copy."""
    for candidate in (_PACKAGE.parent / "runtime", _PACKAGE / "runtime"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("emlc runtime sources are missing from this installation")
