"""Hypothesis strategies that damage a valid model file the ways real files get damaged.

Byte-level (bit flips, truncation, spliced garbage), line-level (deleted, duplicated,
swapped lines), number-level (a number replaced by a huge, negative, non-finite or
overlong one) and, for JSON, structural (keys deleted or duplicated, values swapped
for other types, lists emptied or grown). Positions are drawn as indices so
hypothesis can shrink a failure to the smallest damage that shows it.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import strategies as st

#: Replacements for a number: out of every range, non-finite, negative, overlong.
HOSTILE_NUMBERS = (
    "0", "-1", "-0", "1e999", "-1e999", "nan", "NaN", "inf", "-inf", "Infinity", "1e-320",
    "2147483648", "-2147483649", "4294967296", "18446744073709551616", "9" * 40, "1" * 5000,
    "3.5", "-7.25", "1e308", "0x10",
)
HOSTILE_VALUES: tuple[Any, ...] = (
    None, True, "", "x", "*/", [], {}, [[]], -1, 0, 2**31, 2**64, -(2**63), 1e308, -1e308, 0.5,
    float("nan"), float("inf"), "1e999", [1, 2, 3], {"a": 1}, 10**30,
)
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _pos(draw, size: int) -> int:
    return draw(st.integers(0, max(size - 1, 0)))


def _byte_op(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "delete", "insert", "duplicate", "number", "zero"]))
    n = len(data)
    if n == 0:
        return data
    if kind == "flip":
        i = _pos(draw, n)
        return data[:i] + bytes([data[i] ^ (1 << draw(st.integers(0, 7)))]) + data[i + 1 :]
    if kind == "truncate":
        return data[: _pos(draw, n)]
    if kind == "zero":
        i = _pos(draw, n)
        return data[:i] + b"\x00" + data[i + 1 :]
    i = _pos(draw, n)
    j = min(n, i + draw(st.integers(1, 64)))
    if kind == "delete":
        return data[:i] + data[j:]
    if kind == "duplicate":
        return data[:j] + data[i:j] + data[j:]
    if kind == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=16)) + data[i:]
    return replace_number(draw, data)


def replace_number(draw, data: bytes) -> bytes:
    """One number token swapped for a hostile one."""
    spots = [m.span() for m in _NUMBER.finditer(data)]
    if not spots:
        return data
    lo, hi = spots[_pos(draw, len(spots))]
    return data[:lo] + draw(st.sampled_from(HOSTILE_NUMBERS)).encode() + data[hi:]


def _line_op(draw, data: bytes) -> bytes:
    lines = data.split(b"\n")
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number", "blank"]))
    i = _pos(draw, len(lines))
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    elif kind == "swap":
        j = _pos(draw, len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "blank":
        lines.insert(i, b"")
    else:
        lines[i] = replace_number(draw, lines[i])
    return b"\n".join(lines)


@st.composite
def damaged_bytes(draw, data: bytes, max_ops: int = 3) -> bytes:
    """``data`` after 1..max_ops byte-, line- or number-level mutations."""
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from([_byte_op, _line_op, replace_number]))
        data = op(draw, data)
    return data


def _containers(doc: Any) -> list[Any]:
    """Every dict and list in ``doc``, outermost first (iterative: docs may be deep)."""
    out, stack = [], [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, (dict, list)):
            out.append(node)
            stack.extend(node.values() if isinstance(node, dict) else node)
    return out


def _json_op(draw, doc: Any) -> None:
    nodes = _containers(doc)
    node = nodes[_pos(draw, len(nodes))]
    if not node:
        return
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    key = keys[_pos(draw, len(keys))]
    kind = draw(st.sampled_from(["delete", "replace", "duplicate", "grow", "shrink"]))
    if kind == "delete":
        del node[key]
    elif kind == "replace":
        node[key] = copy.deepcopy(draw(st.sampled_from(HOSTILE_VALUES)))
    elif kind == "duplicate" and isinstance(node, dict):
        other = keys[_pos(draw, len(keys))]
        node[other] = copy.deepcopy(node[key])
    elif kind == "duplicate":
        node.insert(key, copy.deepcopy(node[key]))
    elif kind == "grow" and isinstance(node[key], list):
        node[key] = node[key] * draw(st.integers(2, 3))
    elif kind == "shrink" and isinstance(node[key], list):
        node[key] = node[key][: _pos(draw, len(node[key]))]


@st.composite
def damaged_json(draw, data: bytes, max_ops: int = 3) -> bytes:
    """A JSON document with keys deleted/duplicated and values replaced, re-serialised."""
    doc = json.loads(data)
    for _ in range(draw(st.integers(1, max_ops))):
        _json_op(draw, doc)
    return json.dumps(doc).encode()
