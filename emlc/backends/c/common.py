"""Small, pure helpers the C emitters share: names, comments, literals, flash tables.

Everything that turns model data into C text goes through here, so there is one
place that guarantees identifiers are valid, comments cannot be closed early, and
numbers read back bit-exactly.
"""

from __future__ import annotations

import functools
import math
import struct
import re

import numpy as np

from ...errors import EmlcError
from ...targets import Target

C_KEYWORDS = frozenset(
    """auto break case char const continue default do double else enum extern float for goto
    if inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while _Bool _Complex _Imaginary""".split()
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

#: C integer type name for each numpy integer dtype name.
C_INT = {
    "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
    "int32": "int32_t", "uint32": "uint32_t", "int64": "int64_t", "uint64": "uint64_t",
}
_SIZES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4,
          "int64_t": 8, "uint64_t": 8, "float": 4, "double": 8}


def check_name(name: str) -> str:
    """A model name becomes a C prefix, so it must be a plain identifier."""
    if not isinstance(name, str) or not _IDENT.match(name) or name in C_KEYWORDS:
        raise EmlcError(
            f"model name {name!r} is not a usable C identifier; use letters, digits and "
            "underscores, starting with a letter (e.g. --name my_model)"
        )
    if name.startswith("__") or (len(name) > 1 and name[0] == "_" and name[1].isupper()):
        raise EmlcError(f"model name {name!r} is reserved in C (leading __ or _X); pick another --name")
    return name


def comment(text: object) -> str:
    """Make arbitrary text safe inside a /* */ comment: printable ASCII, no '*/', no '??'."""
    out = []
    for ch in str(text):
        out.append(ch if 32 <= ord(ch) < 127 else f"\\u{ord(ch):04x}")
    s = "".join(out)
    s = s.replace("\\", "\\\\").replace("*/", "*\\/").replace("/*", "/\\*").replace("??", "?\\?")
    return s


@functools.lru_cache(maxsize=1 << 16)
def int_literal(value: int, ctype: str) -> str:
    """An integer constant of the given C type, range-checked, that never overflows int.

    Plain suffixed literals rather than INT32_MIN / INT64_C: C++ (Arduino sketches)
    only gets those macros when __STDC_LIMIT_MACROS was defined before <stdint.h>.
    Cached: emitters print the same few constants for every node of big models.
    """
    value = int(value)
    lo, hi = int_range(ctype)
    if not lo <= value <= hi:
        raise AssertionError(f"{value} does not fit {ctype}")
    if ctype in ("int64_t", "uint64_t"):
        if value == lo and ctype == "int64_t":
            return "(-9223372036854775807LL - 1)"
        return f"{value}LL" if ctype == "int64_t" else f"{value}ULL"
    if value == -(2**31):
        return "(-2147483647L - 1)"
    if abs(value) > 32767:
        return f"{value}L"
    return str(value)


def int_literal_formats(values: np.ndarray, ctype: str) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """:func:`int_literal` of many values at once, for big models' per-node constants:
    (per value an index into the %-formats returned second, those formats, and a mask of
    the values only :func:`int_literal` prints: the type's minimum)."""
    values = np.asarray(values, dtype=np.int64)
    lo, hi = int_range(ctype)
    if values.size and (values.min() < lo or values.max() > hi):
        raise AssertionError(f"a value does not fit {ctype}")
    if ctype in ("int64_t", "uint64_t"):
        return np.zeros(values.shape, np.int64), ("%dLL" if ctype == "int64_t" else "%dULL",), values == lo
    return (np.abs(values) > 32767).astype(np.int64), ("%d", "%dL"), values == -(2**31)


@functools.lru_cache(maxsize=None)
def int_range(ctype: str) -> tuple[int, int]:
    """(min, max) of a C integer type; cached, as every emitted constant asks."""
    info = np.iinfo(ctype.removesuffix("_t"))
    return int(info.min), int(info.max)


def smallest_int(lo: int, hi: int, signed: bool | None = None) -> str:
    """The narrowest C integer type holding [lo, hi]."""
    kinds = ("uint8_t", "int8_t", "uint16_t", "int16_t", "uint32_t", "int32_t", "int64_t")
    for k in kinds:
        if signed is True and k.startswith("u"):
            continue
        if signed is False and not k.startswith("u"):
            continue
        a, b = int_range(k)
        if a <= lo and hi <= b:
            return k
    raise EmlcError(f"value range [{lo}, {hi}] needs more than 64 bits; the model is too large for C tables")


_F32 = struct.Struct("<f")


def _float32_digits(value: float) -> str:
    """The shortest decimal (6 to 9 significant digits) a C compiler reads back as float32
    ``value``: accepted only when the decimal lies strictly inside ``value``'s rounding
    interval, with room for the error of parsing it as a double here."""
    v = _F32.unpack(_F32.pack(value))[0]
    if v == 0.0:
        return "-0.0" if math.copysign(1.0, v) < 0 else "0.0"
    m, e = math.frexp(v)
    exp = max(e - 1, -126)
    half = math.ldexp(1.0, exp - 24)
    if abs(m) == 0.5 and exp > -126:
        half /= 2  # the gap below a power of two is half as wide
    for digits in (6, 7, 8):
        s = f"{v:.{digits}g}"
        d = float(s)
        if abs(d - v) + math.ulp(d) < half:
            break
    else:
        s = f"{v:.9g}"
    return s if "." in s or "e" in s else s + ".0"


def float_literal(value: float, ctype: str) -> str:
    """A floating constant that reads back exactly as the given type; never inf or nan.
    (Python's shortest repr for double, %g digits for float: numpy's scientific
    formatter took a fifth of the C emission time of big models.)"""
    value = float(value)
    if not math.isfinite(value):
        raise AssertionError("non-finite constants must be folded before printing")
    if ctype == "float":
        return _float32_digits(value) + "f"
    return repr(value)


def size_of(ctype: str) -> int:
    return _SIZES[ctype]


class FlashTables:
    """Collects constant tables for one model and renders declarations and reads.

    Tables go to flash on every target: PROGMEM + pgm_read_* on AVR, ``__code`` on
    the 8051, plain ``static const`` where flash is memory-mapped.
    """

    def __init__(self, prefix: str, target: Target):
        self.prefix = prefix
        self.target = target
        self.decls: list[str] = []
        self.bytes = 0

    def add(self, name: str, ctype: str, values, per_line: int = 12, note: str = "") -> str:
        full = f"{self.prefix}_{name}"
        array = np.asarray(values).ravel()
        vals = array.tolist()  # Python numbers: per-item numpy scalars are slow
        if not vals:
            raise AssertionError(f"empty table {full}")
        if ctype == "double" and np.isfinite(array.astype(np.float64)).all():
            # float_literal's double form is repr, which a list's repr applies to each value
            lines = [repr(vals[i : i + per_line])[1:-1] for i in range(0, len(vals), per_line)]
        else:
            if ctype in ("float", "double"):
                items = [float_literal(v, ctype) for v in vals]
            else:
                items = [int_literal(v, ctype) for v in vals]
            lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        acc = self.target.flash
        head = f"/* {note} */\n" if note else ""
        self.decls.append(
            f"{head}static const {acc.qualifier}{ctype} {full}[{len(vals)}]{acc.attribute} = {{\n    "
            + ",\n    ".join(lines)
            + "\n};"
        )
        self.bytes += len(vals) * self.elem_size(ctype)
        return full

    def elem_size(self, ctype: str) -> int:
        if ctype == "double" and not self.target.has_double:
            return 4
        return size_of(ctype)

    def read(self, ctype: str, table: str, index: str) -> str:
        """C expression reading ``table[index]`` of the given element type."""
        acc = self.target.flash
        if acc.direct:
            return f"{table}[{index}]"
        size = self.elem_size(ctype)
        if ctype in ("float", "double"):
            return f"pgm_read_float(&{table}[{index}])"
        fn = dict(acc.reads)[size]
        return f"({ctype}){fn}(&{table}[{index}])"


def top_two(a: str, n: int, index: str | None = None) -> str:
    """Statements leaving the largest of ``a[0..n)`` in ``best`` and the largest of the
    others in ``second`` (``index``, if given, gets the first largest's position), one
    pass. (Two branches for the first pair: SDCC 4 miscompiled a swap after initialised
    declarations.)"""
    i1, i0 = (f"\n        {index} = 1;", f"\n        {index} = 0;") if index else ("", "")
    keep = f"\n            {index} = k;" if index else ""
    return (
        f"    if ({a}[1] > {a}[0]) {{\n        best = {a}[1];\n        second = {a}[0];{i1}\n"
        f"    }} else {{\n        best = {a}[0];\n        second = {a}[1];{i0}\n    }}\n"
        f"    for (k = 2; k < {n}u; ++k) {{\n        if ({a}[k] > best) {{\n            second = best;\n"
        f"            best = {a}[k];{keep}\n        }} else if ({a}[k] > second) {{\n            second = {a}[k];\n"
        "        }\n    }\n"
    )


def first_max_locals(n: int, index: str, pad: str = "    ") -> str:
    """Statements leaving the first largest of the locals q0 .. q{n-1} in ``best`` and its
    position in ``index`` (an exact fixed-point plan needs no runner-up)."""
    out = [f"{pad}best = q0;\n{pad}{index} = 0;"]
    out += [f"{pad}if (q{k} > best) {{\n{pad}    best = q{k};\n{pad}    {index} = {k};\n{pad}}}" for k in range(1, n)]
    return "\n".join(out) + "\n"


def top_two_locals(n: int, pad: str = "    ", index: str | None = None) -> str:
    """:func:`top_two` over the locals q0 .. q{n-1}, unrolled (sums kept in registers)."""
    i1, i0 = (f"\n{pad}    {index} = 1;", f"\n{pad}    {index} = 0;") if index else ("", "")
    out = [f"{pad}if (q1 > q0) {{\n{pad}    best = q1;\n{pad}    second = q0;{i1}\n"
           f"{pad}}} else {{\n{pad}    best = q0;\n{pad}    second = q1;{i0}\n{pad}}}"]
    for k in range(2, n):
        keep = f"\n{pad}    {index} = {k};" if index else ""
        out.append(f"{pad}if (q{k} > best) {{\n{pad}    second = best;\n{pad}    best = q{k};{keep}\n"
                   f"{pad}}} else if (q{k} > second) {{\n{pad}    second = q{k};\n{pad}}}")
    return "\n".join(out) + "\n"


def word_type(target: Target, ctype: str) -> str:
    """The type of a loop's local or index holding unsigned ``ctype`` values: a whole
    register on 32-bit cores, where narrower ones cost zero-extensions at every step
    (RV32EC, digits 10x6 -O2: the table walk 2,288 -> 2,033 instructions a prediction,
    12 B less code), else ``ctype`` itself (8-bit cores: one register each)."""
    return "uint32_t" if target.word_bits == 32 and ctype.startswith("uint") and size_of(ctype) < 4 else ctype
