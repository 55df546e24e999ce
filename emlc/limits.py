"""Input bounds shared by the loaders, so a hostile or damaged file fails fast and clearly.

A model file is untrusted input: a few bytes can declare a billion nodes, nest JSON
deeper than Python's recursion limit, or be a multi-gigabyte accident. Loaders read
files and parse JSON through these helpers and check declared sizes with
:func:`check_count` *before* allocating, so every such file ends in an
:class:`~emlc.errors.EmlcError` naming the limit instead of a RecursionError, a
MemoryError or a machine swapping to death.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EmlcError

#: Largest model file read (a 2,000-tree depth-12 XGBoost JSON is well under 1 GiB).
MAX_FILE_BYTES = 2 << 30
#: Deepest JSON nesting parsed; CPython's json recurses per level (limit about 1,000).
MAX_JSON_DEPTH = 500
#: Most features a model may declare (feature indices are int32 in the IR).
MAX_FEATURES = 1 << 24
#: Most nodes (or leaves) one tree may declare (child indices are int32 in the IR).
MAX_TREE_NODES = (1 << 31) - 1
#: Most trees an ensemble may declare.
MAX_TREES = 1 << 24
#: Most outputs (classes) a model may declare.
MAX_OUTPUTS = 1 << 16

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def check_file_size(path: str | Path, what: str = "model file") -> None:
    """Refuse a file too large to be a model before anything reads it."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise EmlcError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise EmlcError(
            f"{what} {str(path)!r} is {size:,} bytes, more than the {MAX_FILE_BYTES:,}-byte limit; "
            "check that it is the right file"
        )


def read_bytes(path: str | Path, what: str = "model file") -> bytes:
    """The file's bytes, after :func:`check_file_size`."""
    check_file_size(path, what)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise EmlcError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None


def json_depth(data: bytes | str) -> int:
    """Deepest ``[``/``{`` nesting of a JSON text, strings ignored; linear time, no recursion."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    # Escape pairs first (left to right, as a JSON reader pairs them), then only quotes
    # and brackets matter: a bracket counts when an even number of quotes precede it.
    raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    marks = np.frombuffer(raw, dtype=np.uint8)
    if not marks.size:
        return 0
    inside = np.bitwise_xor.accumulate((marks == ord('"')).view(np.uint8))
    step = np.where(inside == 0, _STEP[marks], np.int8(0))
    return max(0, int(np.cumsum(step, dtype=np.int32).max()))


def load_json(data: bytes | str, source: str, hint: str = "the file is corrupt or truncated") -> Any:
    """Parse JSON from an untrusted file; any defect is an :class:`EmlcError` naming ``source``."""
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise EmlcError(
            f"{source}: JSON nested {depth} levels deep, more than the {MAX_JSON_DEPTH} emlc reads; "
            "the file is corrupt (for very deep LightGBM trees save the text model instead)"
        )
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EmlcError(f"{source} is not valid JSON ({exc}); {hint}") from None


def check_count(value: Any, limit: int, what: str, source: str) -> int:
    """A declared size as an int in ``[0, limit]``; checked before anything is allocated from it."""
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        raise EmlcError(f"{source}: {what} must be a whole number, got {value!r}") from None
    if isinstance(value, float) and n != value:
        raise EmlcError(f"{source}: {what} must be a whole number, got {value!r}")
    if not 0 <= n <= limit:
        raise EmlcError(f"{source}: {what} is {n}, outside [0, {limit:,}]; the model file is corrupt")
    return n


__all__ = [
    "MAX_FEATURES",
    "MAX_FILE_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_OUTPUTS",
    "MAX_TREES",
    "MAX_TREE_NODES",
    "check_count",
    "check_file_size",
    "json_depth",
    "load_json",
    "read_bytes",
]
