"""LLVM IR text building blocks shared by every LLVM emitter (codegen, exit_checks, walk_table).

Emitters write IR as text: a :class:`FunctionBuilder` collects one function's lines and
hands out fresh SSA names; the literal helpers spell constants so that LLVM reads back
exactly the value meant (floats by bit pattern, integers range-checked).
"""

from __future__ import annotations

import numpy as np


def hex_float(value: float) -> str:
    """An LLVM float literal that reads back exactly (double bit pattern, as LLVM wants)."""
    bits = int(np.asarray(value, dtype=np.float64).view(np.uint64))
    return f"0x{bits:016X}"


def int_const(value: int, bits: int) -> str:
    """An integer literal, checked to fit ``bits`` (signed or unsigned)."""
    v = int(value)
    if not -(1 << (bits - 1)) <= v < (1 << bits):
        raise ValueError(f"constant {v} does not fit i{bits}")
    return str(v)


def constant(ty: str, v) -> str:
    """``v`` as a literal of LLVM type ``ty`` (``iN``, ``float`` or ``double``)."""
    return int_const(v, int(ty[1:])) if ty.startswith("i") else hex_float(float(v))


def array_literal(elem: str, values: np.ndarray) -> str:
    """``[n x elem] [...]``: a constant array initialiser of ``values`` (flattened)."""
    items = ", ".join(f"{elem} {constant(elem, v)}" for v in values.ravel())
    return f"[{values.size} x {elem}] [{items}]"


def vector_type(ty: str, lanes: int) -> str:
    """``ty``, or ``<lanes x ty>`` when code works on several lanes at once."""
    return f"<{lanes} x {ty}>" if lanes > 1 else ty


def lanes_const(ty: str, c, lanes: int) -> str:
    """Constant ``c`` of ``ty`` in every lane (``splat``), or the scalar literal."""
    return f"splat ({ty} {c})" if lanes > 1 else str(c)


class FunctionBuilder:
    """Collects one function's lines and hands out fresh SSA names."""

    def __init__(self, prefix: str = "t") -> None:
        self.lines: list[str] = []
        self.entry: list[str] = []  # static allocas, hoisted into the entry block
        self.prefix = prefix
        self.n = 0

    def tmp(self) -> str:
        self.n += 1
        return f"%{self.prefix}{self.n}"

    def op(self, text: str) -> str:
        name = self.tmp()
        self.lines.append(f"  {name} = {text}")
        return name

    def alloca(self, text: str) -> str:
        """A stack slot in the entry block: a fixed frame object, never a runtime SP
        adjustment (LLVM's AVR backend gets dynamic allocas one byte off)."""
        name = self.tmp()
        self.entry.append(f"  {name} = alloca {text}")
        return name

    def do(self, text: str) -> None:
        self.lines.append(f"  {text}")

    def label(self, name: str) -> None:
        self.lines.append(f"{name}:")

    def broadcast(self, ty: str, x: str, lanes: int) -> str:
        """Value ``x`` of type ``ty`` in all ``lanes`` lanes."""
        one = self.op(f"insertelement <{lanes} x {ty}> poison, {ty} {x}, i64 0")
        return self.op(f"shufflevector <{lanes} x {ty}> {one}, <{lanes} x {ty}> poison, <{lanes} x i32> zeroinitializer")
