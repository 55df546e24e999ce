"""Leaf rows as byte records, for size-first table builds (-Os): each distinct leaf row
of byte values (counts, :func:`.leaf_tables.rational_counts`, where the leaves are their
rows' fractions; else integer leaves that fit a byte, as the lossy passes make them) is
one record in a byte table,

    mask of its nonzero columns (1 or 2 bytes, little-endian)
    multiplier m (2 bytes, little-endian; counts under a fixed-point plan only)
    the values of its nonzero entries (a byte each, columns ascending)

or, where speed comes first and flash allows (:attr:`LeafRecords.stored`), the
fixed-point values themselves in place of m, a byte per entry ahead of the counts::

    mask, the fixed-point value of each nonzero entry, its count

and a walk records where its leaf's record starts (the leaf's "row" to every sum).
Against row starts, a column byte, a count byte and a fixed-point byte per entry this
drops two bytes per entry for two to four per row: the digits 10x6 forest's leaf tables
take 2,341 bytes instead of 3,955.

predict's fast sums add ``q = (count m + 256) >> 9`` (:func:`scaled`) instead of a
stored ``round(x 2^s)``: :func:`multiplier` picks the row's ``m`` so that q is that value
for every entry where one m does so (all but a few rows of the digits forests), and the
fixed-point margin counts the error that remains (:func:`.fixed_point.with_leaves`).
The stored values cost a byte per entry for two per row and spare the sums their two
multiplications per entry (digits 20x5: 4,946 bytes instead of 3,873). Integer leaves are
their own fixed-point values (an exact plan adds the table itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ...ir.ensemble import Aggregation, Ensemble, Tree
from .common import size_of, smallest_int
from .leaf_tables import rational_counts, zeros_skippable

if TYPE_CHECKING:
    from .model import Model

#: widest row a mask covers (wider rows keep the sparse tables)
MAX_WIDTH = 16
#: largest multiplier: two bytes, each product with a count byte within 16 bits
MAX_MULTIPLIER = 65535
#: bits of the product below the fixed-point value: 9 gives every row of the digits
#: forests (10x6, 30x6) a multiplier that reproduces round(x 2^7), and still holds the
#: multiplier of a row with one count (2^16 / 1, just below) in two bytes
SHIFT = 9
#: :func:`scaled` in C from count c and m's bytes ml, mh, in 16-bit unsigned arithmetic
#: (c ml + 256 and c mh + 255 stay below 2^16; the tests hold it to :func:`scaled`)
FAST_C = "(uint16_t)(((uint16_t)c * mh + (((uint16_t)c * ml + 256u) >> 8)) >> 1)"


def scaled(count: int, m: int) -> int:
    """The fixed-point value predict's sums add for a leaf count under row multiplier ``m``
    (the C code: :data:`FAST_C`)."""
    return (count * m + (1 << (SHIFT - 1))) >> SHIFT


def multiplier(counts: list[int], want: list[int], scale: float) -> int:
    """The row's multiplier: of those under which every count gets its ``want`` value
    (:func:`scaled`), the nearest to ``2^SHIFT scale / total``; when none does, the one
    nearby whose values stray least from ``scale count / total``."""
    total = sum(counts)
    ideal = Fraction(1 << SHIFT) * Fraction(scale) / total
    near = min(round(ideal), MAX_MULTIPLIER)
    lo, hi = 0, MAX_MULTIPLIER
    half = 1 << (SHIFT - 1)
    for c, w in zip(counts, want):  # scaled(c, m) == w  <=>  w 2^SHIFT - half <= c m <= (w + 1) 2^SHIFT - half - 1
        lo = max(lo, -(-((w << SHIFT) - half) // c))
        hi = min(hi, (((w + 1) << SHIFT) - half - 1) // c)
    if lo <= hi:
        return min(max(near, lo), hi)
    exact = [Fraction(scale) * c / total for c in counts]

    def stray(m: int) -> Fraction:
        return max(abs(scaled(c, m) - x) for c, x in zip(counts, exact))

    return min(range(max(near - 64, 0), min(near + 64, MAX_MULTIPLIER) + 1), key=stray)


@dataclass(frozen=True)
class LeafRecords:
    """The byte table of row records and what the C code and the plan need of it."""

    data: np.ndarray  # uint8, records back to back
    offsets: np.ndarray  # int64 [rows]: where each row's record starts
    mask_bytes: int
    #: the fixed-point value of every leaf entry under its row's multiplier (no multiplier: None)
    fast: np.ndarray | None
    #: the bytes are counts (value = count / row total), else the integer leaves themselves
    counts: bool = True
    #: the bytes are int8 (negative integer leaves)
    signed: bool = False
    #: each entry's fixed-point value is stored (a byte ahead of the counts), not a multiplier
    stored: bool = False

    @property
    def header_bytes(self) -> int:
        return self.mask_bytes + (2 if self.fast is not None and not self.stored else 0)

    @property
    def offset_t(self) -> str:
        return smallest_int(0, int(self.data.size), signed=False)


def leaf_refs(records: LeafRecords | None, tree: Tree) -> list[int]:
    """What each of ``tree``'s nodes hands the sums as its leaf row: the row, or with
    ``records`` where its record starts."""
    return (tree.leaf if records is None else records.offsets[tree.leaf]).tolist()


def largest_ref(records: LeafRecords | None, ens: Ensemble) -> int:
    """The largest row a leaf hands the sums (:func:`leaf_refs`): the last leaf row, or
    with ``records`` the last record's start (not the table's size: a walk's field that
    holds it holds every leaf)."""
    return int(ens.leaves.shape[0] - 1 if records is None else records.offsets.max())


def encode(values: np.ndarray, want: np.ndarray | None = None, scale: float | None = None,
           counts: bool = True, stored: bool = False) -> LeafRecords | None:
    """The records of leaf byte ``values`` [rows, width]: counts (multipliers aiming at the
    fixed-point leaves ``want`` of ``scale`` when given; with ``stored``, those leaves
    themselves), or integer leaves (``counts`` False); None when a row is too wide or a
    value (a stored one too) outside a byte."""
    width = values.shape[1]
    signed = bool((values < 0).any())
    lo, hi = (-128, 127) if signed else (0, 255)
    if width > MAX_WIDTH or int(values.min()) < lo or int(values.max()) > hi:
        return None
    if stored and (want is None or int(want.min()) < 0 or int(want.max()) > 255):
        return None
    mask_bytes = 1 if width <= 8 else 2
    data: list[int] = []
    offsets: list[int] = []
    fast = np.zeros_like(values) if want is not None else None
    for r, row in enumerate(values.tolist()):
        cols = [j for j, c in enumerate(row) if c]
        offsets.append(len(data))
        mask = sum(1 << j for j in cols)
        data += [(mask >> (8 * b)) & 255 for b in range(mask_bytes)]
        if stored and want is not None and fast is not None:
            fast[r, cols] = [int(want[r, j]) for j in cols]
            data += fast[r, cols].tolist()
        elif want is not None and fast is not None and scale is not None:
            cs = [row[j] for j in cols]
            m = multiplier(cs, [int(want[r, j]) for j in cols], scale)
            data += [m & 255, m >> 8]
            fast[r, cols] = [scaled(c, m) for c in cs]
        data += [row[j] & 255 for j in cols]
    return LeafRecords(np.array(data, dtype=np.int64), np.array(offsets, dtype=np.int64), mask_bytes, fast,
                       counts, signed, stored)


def sparse_bytes(values: np.ndarray, fast: bool) -> int:
    """Bytes of the sparse tables the records replace: row starts, a column and a value
    byte per entry, and with ``fast`` a fixed-point value byte."""
    nnz = int(np.count_nonzero(values))
    start_t = smallest_int(0, nnz, signed=False)
    return (values.shape[0] + 1) * size_of(start_t) + nnz * (2 + int(fast))


def pays(ens: Ensemble, records: LeafRecords, values: np.ndarray) -> bool:
    """Are the records smaller than the sparse tables, counting the wider leaf references
    a walk may then record (one per leaf)?"""
    wider = size_of(records.offset_t) - size_of(smallest_int(0, values.shape[0] - 1, signed=False))
    return records.data.size + max(wider, 0) * ens.n_leaves < sparse_bytes(values, records.fast is not None)


def eligible(ens: Ensemble, raw_dtype: str) -> tuple[np.ndarray, bool] | None:
    """(the byte values records would hold, whether they are counts), or None: float
    leaves that are counts in both float precisions (the float sums' and binary64's), or
    integer leaves; zeros must be skippable (:func:`.leaf_tables.zeros_skippable`)."""
    kind = ens.leaves.dtype.kind
    if ens.aggregation is Aggregation.VOTE or ens.leaf_width < 2 or kind not in "fiu":
        return None
    if not zeros_skippable(ens, raw_dtype):
        return None
    if kind in "iu":
        return np.asarray(ens.leaves, dtype=np.int64), False
    counts = rational_counts(ens, "float")
    if counts is None or not np.array_equal(counts, rational_counts(ens, "double")):
        return None
    return counts, True


class RowEntries(NamedTuple):
    """C pieces visiting the entries of leaf row ``row``: ``head`` before the loops,
    ``loop`` a restartable ``for`` header (it ends when no mask bit is left), ``enter``
    the statements opening its body (they skip the columns without an entry and read the
    byte), then the entry's ``column`` (from 0; with ``sums``, ``slot``: its sum),
    ``value`` (the stored byte: a count, or the integer leaf) and ``fast`` (the
    fixed-point value); ``table``: the records' C array."""

    head: str
    loop: str
    enter: str
    column: str
    slot: str
    value: str
    fast: str
    table: str


def row_entries(m: Model, row: str, sums: tuple[str, str] | None = None) -> RowEntries:
    """:class:`RowEntries` over the records of plan ``m`` (declared on first use).
    ``sums`` (C type, first sum): predict's fast sums, which the loop steps through with a
    pointer, and the fixed-point value (its multiplier read in ``head``)."""
    rec = m.plan.records
    assert rec is not None
    tables = m.tables
    multiplied = rec.fast is not None and not rec.stored
    table = m.once("lrec", lambda: tables.add(
        "lrec", "uint8_t", rec.data,
        note="leaf rows: mask of nonzero columns, " + ("multiplier m, " if multiplied else "")
        + ("the fixed-point value of each nonzero column, " if rec.stored else "")
        + ("a count per nonzero column (value = count / row total" if rec.counts else
           f"the {'int8' if rec.signed else 'uint8'} leaf value of each nonzero column (")
        + (f", fixed point (count m + {1 << (SHIFT - 1)}) >> {SHIFT}" if multiplied else "")
        + "); multi-byte fields low byte first"))
    et, mt = rec.offset_t, f"uint{8 * rec.mask_bytes}_t"
    ct = "int8_t" if rec.signed else "uint8_t"

    def byte(at: str) -> str:
        return tables.read("uint8_t", table, at)

    mask = byte(row) if rec.mask_bytes == 1 else f"({mt})({byte(row)} | ({mt}){byte(f'{row} + 1u')} << 8)"
    head = f"    {et} e;\n    {mt} bits;\n"
    start = f"e = ({et})({row} + {rec.header_bytes}u), bits = {mask}"
    if sums is None:
        head += f"    uint8_t j;\n    {ct} c;\n"
        if rec.stored:  # the counts follow the values: one byte per entry, a mask bit each
            head += (f"    uint8_t ne = 0;\n    for (bits = {mask}; bits; bits >>= 1) {{\n"
                     "        ne = (uint8_t)(ne + (bits & 1u));\n    }\n")
            start = f"e = ({et})({row} + {rec.header_bytes}u + ne), bits = {mask}"
        start, step, value = start + ", j = 0", "++j", ""
        # near-ties only: `continue` takes less code than a loop of its own (38 bytes of
        # the digits forest's float and binary64 sums)
        skip = "if (!(bits & 1u)) {\n            continue;\n        }"
    else:
        # every prediction: a pointer to the sum and zero bits skipped in a loop of their
        # own (digits 10x6 on AVR: about 300 cycles a prediction)
        assert rec.fast is not None
        at = rec.mask_bytes
        head += f"    {ct} c;\n    {sums[0]} *p;\n"
        if not rec.stored:
            head += f"    uint8_t ml = {byte(f'{row} + {at}u')}, mh = {byte(f'{row} + {at + 1}u')};\n"
        start, step, value = start + f", p = {sums[1]}", "++p", "c" if rec.stored else FAST_C
        skip = "while (!(bits & 1u)) {\n            bits >>= 1;\n            ++p;\n        }"
    return RowEntries(
        head=head, loop=f"for ({start}; bits; bits >>= 1, {step})",
        enter=f"{skip}\n        c = {'(int8_t)' if rec.signed else ''}{byte('e')};\n        ++e;\n        ",
        column="j", slot="*p", value="c", fast=value, table=table,
    )
