"""The one flash and stack model of a C build, for passes and backends alike.

A build's flash is its tables (data) plus its code. Before emission the tables are
estimated from the IR (:func:`data_bytes`); the C backend, which knows its tables to the
byte, passes them in. The code is one formula (:func:`code_bytes`) for both; the parts only
a backend's plan knows (leaves adding fixed-point sums, the byte-sum first walk, the
binary64 near-tie step) come in as :class:`CodeTerms`, zero by default. These are
estimates for choosing a layout, comparing passes and refusing a model that cannot fit,
not a promise of the linker's size.

``table`` layout data: the smaller of two record encodings the C backend chooses from
(:mod:`emlc.backends.c.walk_table`): one record per split (feature index, threshold,
right child reference, and the left one unless every split's left child is the next
split), a root reference per tree; or decision records only, each one word holding the
left subtree's split count, its flags and an index into the sorted distinct thresholds
(stored once each, without the top byte each feature's keys share in runs when that is
smaller), with leaves numbered in order and mapped to rows when shared; at the speed levels
on targets with half-word tests (float32 and 8/16-bit integer features), the half-word records of
:mod:`emlc.backends.c.walk_halves`, counted as it writes them. ``inline`` layout code: about ``target.inline_bytes_per_node`` of
machine code per split and a few bytes per leaf. Both add the leaf table (counted as the
backend stores it), rank edges, category bitsets and early-exit bounds.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from .errors import EmlcError
from .ir.ensemble import Aggregation, Ensemble, Link, Op, Tree
from .targets import Target


class Layout(StrEnum):
    """How the trees are walked: nested ``if``s per node (fastest) or node records read by
    one loop (smallest for big models). Its value is what users type and reports print."""

    INLINE = "inline"
    TABLE = "table"


#: the default flash budget of the speed levels: this share of the target's flash (the
#: rest is the application's).
DEFAULT_FLASH_SHARE = 0.5


@dataclass(frozen=True)
class FlashBudget:
    """The flash the speed levels may give a model: ``bytes``, or else ``share`` of the
    target's flash. They pick the fastest build within it (``--flash-budget``)."""

    share: float = DEFAULT_FLASH_SHARE
    bytes: int | None = None

    def limit(self, target: Target) -> int | None:
        """The budget in bytes on ``target`` (None: no limit, as on the host)."""
        if self.bytes is not None:
            return self.bytes
        return None if target.flash_bytes is None else int(self.share * target.flash_bytes)

    @staticmethod
    def parse(text: str) -> FlashBudget:
        """``12000``, ``24K`` / ``24KiB`` (x1024) or ``40%`` of the target's flash."""
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%|[kK](?:i?B)?|B)?\s*", text)
        if m is None:
            raise EmlcError(f"--flash-budget {text!r}: give bytes (12000, 24K) or a share of the target's flash (40%)")
        value, unit = float(m.group(1)), (m.group(2) or "").upper()
        if unit == "%":
            if not 0 < value <= 100:
                raise EmlcError(f"--flash-budget {text!r}: a share is between 0 and 100%")
            return FlashBudget(share=value / 100)
        size = int(value * (1024 if unit.startswith("K") else 1))
        if size < 1:
            raise EmlcError(f"--flash-budget {text!r}: the budget must be at least one byte")
        return FlashBudget(bytes=size)

#: code around the trees: the API, the decision and the float fallback (bytes)
_FIXED_CODE = 600
#: 8-bit cores without an FPU link soft-float add, divide and compare and read tables byte
#: by byte: with predict_proba, 2.4-3.3 KB of a digits forest or boosting model on AVR
_SOFT_FLOAT_CODE = 1400
#: the table layout's loop (soft-float cores: with the byte-wise record reads); the speed
#: levels' walk of half-word records (walk_halves; AVR, avr-gcc 5.4, digits forests: the
#: step 110 B, the slow step 94, each of the walk's two copies about 100, with its assembly)
_TABLE_LOOP, _TABLE_LOOP_SOFT, _HALF_LOOP = 200, 1300, 450
#: the link's e^x (soft-float cores: multiply and divide besides)
_EXP, _EXP_SOFT = 100, 500
#: machine code per leaf of an inline walk (its row store and jump)
_INLINE_LEAF = 6
#: a split comparing an int16 key (load, compare, branch), its NaN test, and the code
#: computing the keys (AVR, avr-gcc 5.4)
_KEYED_NODE, _KEYED_NAN, _KEYS_CODE = 30, 8, 200
#: NaN-free half-word tests (Point.guarded): code saved per split and walk against the
#: exact half-word test (AVR, avr-gcc 5.4, digits 10x6 linked: 23-30 B per walk), the guard's code
#: per feature it reads and the table walk's loop and key function behind it
_NO_NAN_SAVING, _GUARD_FEATURE, _NAN_WALK_CODE = 26, 12, 700
#: the table walk's inline head (Point.head): its call, code per tree (a function and the
#: next one's address, 2 ldi) and per test, by the records' input type (ATmega328P, digits
#: 20x5, heads of 1-4 levels linked, with a flash table of addresses then: +770, +1,964,
#: +4,326, +9,082 B for 20, 60, 140, 300 tests; digits 10x6, heads of 3-6 levels, 70, 150,
#: 289 and 511 tests: 29.5-30.0 B a test on float32 records, 22.9-23.0 on int16, 14.0-14.1
#: on uint8; int32, 2 and 4 levels: 40.3 and 40.6, its test a chain over four bytes)
_HEAD_CODE, _HEAD_TREE = 20, 10
_HEAD_NODE = {"float32": 30, "int32": 40, "int16": 23, "uint16": 23, "int8": 15, "uint8": 15}


@dataclass(frozen=True)
class CodeTerms:
    """Code that only a backend's plan knows about (the hooks of :func:`code_bytes`).

    ``leaf_adds``: ``q += v`` statements at inline leaves (leaf sums), ``leaf_add_bytes``
    each (AVR: about 2 B on byte sums, 6-8 B on 16-bit sums, which crowd the registers);
    ``quick_adds``: those of the byte-sum first walk, which copies the walk (None: no such
    walk); ``extra``: other fixed code, such as the binary64 near-tie step;
    ``keyed_nodes``: splits of the walk recording rows that compare an int16 key
    (``keyed_nan_tests`` of them also test it for NaN) instead of a float's halves;
    ``guarded``: the walks' tests assume no NaN behind a guard, whose rows the table
    walk takes (its records are counted with the data); ``head_nodes``: tests of the
    table walk's inline head (:mod:`emlc.backends.c.walk_head`)."""

    leaf_adds: int = 0
    leaf_add_bytes: int = 4
    quick_adds: int | None = None
    extra: int = 0
    keyed_nodes: int = 0
    keyed_nan_tests: int = 0
    guarded: bool = False
    head_nodes: int = 0


def index_bytes(count: int) -> int:
    """Bytes per entry of an unsigned column holding values in ``[0, count)``."""
    return 1 if count <= 1 << 8 else 2 if count <= 1 << 16 else 4


def split_key_code(target: Target) -> int:
    """Code of the -Os table's keys stored without their top byte (walk_table's
    split_key.c), which the backend takes only when they save more: linked growth
    measured 60-160 B with GCC (AVR, Arm, RISC-V, x86-64), 180-520 B with SDCC (8051)."""
    return 520 if target.compiler == "sdcc" else 200


def soft_float(target: Target) -> bool:
    """Does the target run float arithmetic in software on an 8-bit core?"""
    return target.word_bits == 8 and not target.has_fpu


def needs_exp(ens: Ensemble) -> bool:
    """Does the link compute e^x?"""
    return ens.link in (Link.SIGMOID, Link.SOFTMAX, Link.EXP, Link.ISOLATION)


def split_features(ens: Ensemble) -> np.ndarray:
    """The features decision nodes read, ascending."""
    if not ens.n_trees:
        return np.zeros(0, dtype=np.int64)
    return np.unique(ens.column("feature")[ens.column("op") != Op.LEAF]).astype(np.int64)


def code_bytes(ens: Ensemble, target: Target, layout: Layout, terms: CodeTerms = CodeTerms(),
               packed: bool = False) -> int:
    """Machine code of a build: the walk, the code around it and the backend's ``terms``
    (``packed``: the -Os table records, else the speed levels')."""
    soft = soft_float(target)
    inner = ens.n_nodes - ens.n_leaves
    node = target.inline_bytes_per_node(ens.input_type)
    code = _FIXED_CODE + (_SOFT_FLOAT_CODE if soft else 0)
    if terms.guarded:  # a guard before each walk, the table walk behind them
        node -= _NO_NAN_SAVING
        walks = 1 + (terms.quick_adds is not None)
        code += walks * _GUARD_FEATURE * split_features(ens).size + _NAN_WALK_CODE
    if layout is Layout.INLINE:
        code += inner * node + ens.n_leaves * _INLINE_LEAF + terms.leaf_add_bytes * terms.leaf_adds
        if terms.keyed_nodes:
            code -= terms.keyed_nodes * (node - _KEYED_NODE) - terms.keyed_nan_tests * _KEYED_NAN - _KEYS_CODE
    elif not packed and half_word_table(ens, target):
        code += _HALF_LOOP
        if terms.head_nodes:
            code += _HEAD_CODE + terms.head_nodes * _HEAD_NODE[ens.input_type] + ens.n_trees * _HEAD_TREE
    else:
        code += _TABLE_LOOP_SOFT if soft else _TABLE_LOOP
    if needs_exp(ens):
        code += _EXP_SOFT if soft else _EXP
    if terms.quick_adds is not None:  # a second inline walk, adding bytes and recording no rows
        code += inner * node + ens.n_leaves * 4 + 2 * terms.quick_adds
    return int(code + terms.extra)


def _leaf_bytes(ens: Ensemble, target: Target) -> int:
    """The leaf table as the C backend stores it: each value in the target's width
    (``double`` is 4 bytes where it is 32-bit), and multi-output rows sparsely (row
    starts, a column byte and a value per nonzero entry) when that is smaller."""
    leaves = np.asarray(ens.leaves)
    size = leaves.dtype.itemsize
    if leaves.dtype.kind == "f" and size == 8 and not target.has_double:
        size = 4
    dense = leaves.size * size
    if ens.aggregation is Aggregation.VOTE or ens.leaf_width < 2:
        return int(dense)
    sparse = (leaves.shape[0] + 1) * 2 + int(np.count_nonzero(leaves)) * (size + 1)
    return int(min(dense, sparse))


def _shared_bytes(ens: Ensemble, target: Target, leaf_bytes: int | None = None, exit_bytes: int | None = None,
                  edges: bool = True) -> int:
    """Tables both layouts need: leaf table (``leaf_bytes`` when the backend knows them),
    bitsets, rank edges (``edges``: the half-word records hold ranked features' edges as
    their thresholds, no table of their own), early-exit bounds (``exit_bytes`` when the
    backend knows them: its checks keep the check points that can fire, in fixed point,
    where the IR holds float64 bounds for every round)."""
    total = (_leaf_bytes(ens, target) if leaf_bytes is None else leaf_bytes) + ens.cat_sets.size * 4
    edge_bytes = 4 if ens.input_type != "float64" else 8
    if edges:
        total += sum(r.edges.size * edge_bytes for r in ens.feature_ranks if r is not None)
    if exit_bytes is not None:
        total += exit_bytes
    elif ens.early_exit is not None:
        ee = ens.early_exit
        total += ee.checkpoints.size * index_bytes(ens.n_trees + 1)
        total += (ee.lower.size + ee.upper.size) * ee.lower.dtype.itemsize
    return int(total)


def _threshold_bytes(ens: Ensemble, target: Target) -> int:
    size = ens.threshold_dtype.itemsize
    return min(size, target.double_bits // 8) if ens.threshold_dtype.kind == "f" else size


def _left_is_next(ens: Ensemble) -> bool:
    """Is every split's left child the next split (numbering splits only, trees back to back)?

    Checked on all trees at once: with trees back to back a split's global split
    number is its tree-local one plus its tree's offset, so "next" means the same.
    """
    return ens.trees_fact("#left_is_next", _find_left_is_next)


def _find_left_is_next(ens: Ensemble) -> bool:
    op = ens.column("op")
    counts = ens.node_counts()
    offset = np.repeat(np.cumsum(counts) - counts, counts)
    left = ens.column("left") + offset
    inner = op != Op.LEAF
    pos = np.cumsum(inner) - 1
    child = left[inner]
    return not ((op[child] == Op.LEAF).any() or (pos[child] != pos[inner] + 1).any())


def data_bytes(ens: Ensemble, target: Target, layout: Layout, packed: bool = False,
               leaf_bytes: int | None = None, exit_bytes: int | None = None) -> int:
    """The tables of a build in ``layout``, estimated from the IR (``packed``: -Os records,
    whose keys may drop their top byte; ``leaf_bytes``, ``exit_bytes``: the leaf tables and
    early-exit bounds as the backend stores them, such as its leaf records, else estimated)."""
    if layout is Layout.INLINE:
        return _shared_bytes(ens, target, leaf_bytes, exit_bytes)
    if not packed and half_word_table(ens, target):
        return int(_half_records(ens)) + _shared_bytes(ens, target, leaf_bytes, exit_bytes, edges=False)
    splits = ens.n_nodes - ens.n_leaves
    ref = index_bytes(2 * max(splits, ens.leaves.shape[0]))
    node = index_bytes(ens.n_features) + _threshold_bytes(ens, target) + ref * (1 if _left_is_next(ens) else 2)
    records = splits * node
    if splits:
        records = min(records, _counted_records(ens, target, packed))
    return int(records + ens.n_trees * ref + _shared_bytes(ens, target, leaf_bytes, exit_bytes))


#: the threshold field of a half-word record per input type (walk_halves): a float32's
#: key threshold's upper half (its lower half apart, :func:`_half_low`), an integer
#: feature's threshold itself in the feature's own width (16- and 32-bit: its low bytes
#: alone where every threshold shares the ones above, :func:`half_kept`)
HALF_THRESHOLD_BYTES = {"float32": 2, "int32": 4, "int16": 2, "uint16": 2, "int8": 1, "uint8": 1}


def half_word_table(ens: Ensemble, target: Target) -> bool:
    """Does the speed levels' table layout walk half-word records (the C backend's
    walk_halves: float32 or 8/16-bit integer features, no categorical splits, targets with
    half-word tests, fields wide enough: :func:`_half_records`)?"""
    return (target.half_word_tests and ens.input_type in HALF_THRESHOLD_BYTES
            and not (ens.column("op") == Op.CAT).any() and _half_records(ens) is not None)


def half_first_bytes(n_features: int, largest_ref: int) -> int | None:
    """Bytes of a half-word record's first field, which holds 4f + 3 (the offset of
    feature f's top byte) or the high bits of what a leaf names, ``ref >> 8 << 2``, up to
    ``largest_ref`` (the last leaf row, or the last leaf record's start): one, or two, or
    None past those."""
    for size in (1, 2):
        if 4 * n_features <= 1 << 8 * size and largest_ref >> 8 << 2 < 1 << 8 * size:
            return size
    return None


def written_out_limit(ens: Ensemble) -> int:
    """Records a walk that writes shared subtrees out once per path in (the counted and
    half-word records) writes at most: past this, records that keep them shared are used."""
    return 2 * ens.n_nodes + 1024


def _half_records(ens: Ensemble) -> int | None:
    """Bytes of the half-word records (walk_halves), every tree written out: per split the
    first field, the threshold field (:data:`HALF_THRESHOLD_BYTES`), the step to the right
    child (a byte while every left subtree fits 255 bytes, else two; integer features
    leave it out where the left child is a leaf) and, for float32 features unless every
    threshold's lower half is zero, that half; per leaf the first field and a byte; a
    2-byte root per tree. None where they cannot hold the model, or
    take over 64 KB (16-bit pointers)."""
    return ens.trees_fact(f"#half_records:{ens.input_type}", _find_half_records)  # replace(input_type=) keeps trees


def _find_half_records(ens: Ensemble) -> int | None:
    fb = half_first_bytes(ens.n_features, int(ens.leaves.shape[0]) - 1)
    if fb is None or _written_out(ens, 1, 1)[0] > written_out_limit(ens):
        return None
    low = ens.input_type == "float32" and _half_low(ens)
    k = HALF_THRESHOLD_BYTES[ens.input_type] if ens.input_type == "float32" else half_kept(
        _integer_thresholds(ens), ens.input_type)[0]
    for step in (1, 2):
        saves = 0 if ens.input_type == "float32" else step  # integer records: no step before a left leaf
        total, most = _written_out(ens, fb + k + step + 2 * low, fb + 1, saves)
        if most + 2 * low < 1 << 8 * step:
            return total + 2 * ens.n_trees if total <= 0xFFFF else None  # lpm reads the first 64 KB
    return None


def half_kept(thresholds: np.ndarray, input_type: str) -> tuple[int, int | None]:
    """(bytes, high): the low bytes of an integer feature's split ``thresholds`` (K of
    ``x <= K``) half-word records keep, and the value above them every threshold shares,
    which the records leave out (the assembly walk holds it in a register or its
    instructions), or None where they keep the feature's width: one byte of a 16-bit
    feature's, one or two of an int32's."""
    width = HALF_THRESHOLD_BYTES[input_type]
    k = np.asarray(thresholds, dtype=np.int64)
    for kept in (1, 2):
        if kept < width and width > 1:
            high = np.unique(k >> 8 * kept)
            if high.size == 1:
                return kept, int(high[0])
    return width, None


def _integer_thresholds(ens: Ensemble) -> np.ndarray:
    """K of ``x <= K`` of every split on an integer feature the C backend keeps (splits
    every value of the type takes one way are folded), or a value no other shares a high
    byte with when ranked features make that unknown here."""
    if not ens.input_type.startswith(("int", "uint")) or any(r is not None for r in ens.feature_ranks):
        return np.array([0, 1 << 16], dtype=np.int64)
    op, t = ens.column("op"), ens.column("threshold").astype(np.float64)
    inner = (op == Op.LE) | (op == Op.LT)
    with np.errstate(invalid="ignore"):
        k = np.where(op == Op.LE, np.floor(t), np.ceil(t) - 1)[inner]
    info = np.iinfo(ens.input_type)
    return k[(k >= info.min) & (k < info.max)].astype(np.int64)


def _half_low(ens: Ensemble) -> bool:
    """Might some split's key threshold have a nonzero lower half? No only when every split
    is ``x <= t`` (ranked features: ``x <= edge``) with t a float32 whose low 16 bits are
    zero (digits forests' x.5)."""
    op, feature = ens.column("op"), ens.column("feature")
    inner = op != Op.LEAF
    ranks = list(ens.feature_ranks) or [None] * ens.n_features
    ranked = np.array([r is not None for r in ranks])
    plain = inner & ~ranked[np.where(inner, feature, 0)]
    if (op[plain] != Op.LE).any() or any(r is not None and r.strict for r in ranks):
        return True
    values = [ens.column("threshold")[plain].astype(np.float64)]
    values += [np.asarray(r.edges, dtype=np.float64) for r in ranks if r is not None]
    t = np.concatenate(values)
    t = t[np.isfinite(t)]
    f32 = t.astype(np.float32)
    return bool((f32.astype(np.float64) != t).any() or (f32.view(np.uint32) & 0xFFFF).any())


def _written_out(ens: Ensemble, split_bytes: int, leaf_bytes: int, left_leaf_saves: int = 0) -> tuple[int, int]:
    """(bytes of every tree, bytes of the largest left subtree of a split), each split and
    leaf taking the bytes given (a split whose left child is a leaf ``left_leaf_saves``
    fewer), shared subtrees written out once per path in. All trees
    at once, one numpy step per level (big forests' per-node loops are slow)."""
    op = ens.column("op")
    if not op.size:
        return 0, 0
    counts = ens.node_counts()
    first = np.cumsum(counts) - counts
    offset = np.repeat(first, counts)
    inner = op != Op.LEAF
    left = np.where(inner, ens.column("left") + offset, 0)
    right = np.where(inner, ens.column("right") + offset, 0)
    size = np.where(inner, 0, leaf_bytes).astype(np.int64)
    own = split_bytes - left_leaf_saves * (op[left] == Op.LEAF)
    for _ in range(int(counts.max()) + 1):  # sizes settle from the leaves up, a level a step
        grown = np.where(inner, own + size[left] + size[right], size)
        if np.array_equal(grown, size):
            break
        size = grown
    return int(size[first].sum()), int(size[left[inner]].max()) if inner.any() else 0


def _threshold_pairs(ens: Ensemble) -> np.ndarray:
    """The feature of each distinct (feature, threshold) pair of the splits."""
    inner = ens.column("op") != Op.LEAF
    return _distinct_pairs(ens.column("feature")[inner], ens.column("threshold")[inner])


def _distinct_pairs(feature: np.ndarray, value: np.ndarray) -> np.ndarray:
    """The feature of each distinct (feature, value) pair."""
    feature = feature.astype(np.int64)
    if not feature.size:
        return feature
    codes = np.unique(value, return_inverse=True)[1].astype(np.int64).ravel()
    pairs = np.unique(feature * (int(codes.max()) + 1) + codes)
    return pairs // (int(codes.max()) + 1)


def _top_byte_runs(ens: Ensemble, width: int, ranked: np.ndarray) -> tuple[int, int]:
    """(keys, runs of one top byte among each feature's sorted keys): the -Os table's
    float keys of ``width`` bytes (ranked features' rank edges, other features'
    thresholds), which it may store without that byte."""
    inner = ens.column("op") != Op.LEAF
    feature = ens.column("feature")[inner]
    keep = ~ranked[feature]
    values = [ens.column("threshold")[inner][keep].astype(np.float64)]
    features = [feature[keep].astype(np.int64)]
    for f, r in enumerate(ens.feature_ranks):
        if r is not None:
            values.append(np.asarray(r.edges, dtype=np.float64))
            features.append(np.full(r.edges.size, f, dtype=np.int64))
    dtype, udtype = (np.float32, np.uint32) if width == 4 else (np.float64, np.uint64)
    value, feat = np.concatenate(values), np.concatenate(features)
    bits = value.astype(dtype).view(udtype).astype(np.uint64)
    top = (bits >> np.uint64(8 * width - 8)).astype(np.int64)  # sign and high exponent bits
    return int(_distinct_pairs(feat, value).size), int(_distinct_pairs(feat, top).size)


def _counted_records(ens: Ensemble, target: Target, packed: bool) -> int:
    """Decision records packed in one word (counted encoding): split count of the left
    subtree, flags (right leaf, NaN, category) and an index into the distinct thresholds,
    which are stored once (ranked features' thresholds are their edges, counted with the
    shared bytes), without their top byte when runs of it per feature take less (-Os only,
    ``packed``; its lookup's code counted here); a leaf-row map when leaf rows are shared between leaves."""
    op = ens.column("op")
    inner = op != Op.LEAF
    pair_features = ens.trees_fact("#threshold_pairs", _threshold_pairs)
    ranked = np.array([r is not None for r in ens.feature_ranks] or [False] * ens.n_features)
    unranked = int(np.count_nonzero(~ranked[pair_features]))
    width = _threshold_bytes(ens, target)
    keys = unranked * width + 2 * ens.n_features
    if packed and ens.input_type.startswith("float"):
        # keys (rank edges too) without their top byte, which each feature's keys share in runs
        n_keys, runs = _top_byte_runs(ens, 8 if ens.input_type == "float64" else 4, ranked)
        keys -= max(n_keys - 2 * runs - ens.n_features - split_key_code(target), 0)
    per_tree = (ens.node_counts() - 1) // 2
    cbits = max(int(per_tree.max() // 2).bit_length(), 1)  # a left subtree: about half a balanced tree
    flags = 1 + int(ens.input_type.startswith("float")) + int(bool((op == Op.CAT).any()))
    bits = cbits + flags + max(int(pair_features.size - 1).bit_length(), 1)
    word = 1 if bits <= 8 else 2 if bits <= 16 else 4 if bits <= 32 else 8
    leaves = ens.n_leaves
    lmap = leaves * index_bytes(ens.leaves.shape[0]) if ens.leaves.shape[0] < 0.9 * leaves else 0
    return int(np.count_nonzero(inner)) * word + keys + lmap


def flash_bytes(ens: Ensemble, target: Target, layout: Layout | str, terms: CodeTerms = CodeTerms(),
                data: int | None = None, packed: bool = False, leaf_bytes: int | None = None,
                exit_bytes: int | None = None) -> int:
    """Flash of a build: ``data`` bytes of tables (estimated from the IR when None, with
    ``leaf_bytes`` of leaf tables and ``exit_bytes`` of early-exit bounds when given; a
    guarded walk's with the table walk's records) plus code."""
    layout = Layout(layout)
    if data is None:
        data = data_bytes(ens, target, layout, packed, leaf_bytes, exit_bytes)
        if terms.guarded:
            data += data_bytes(ens, target, Layout.TABLE) - _shared_bytes(ens, target, edges=not half_word_table(ens, target))
    return data + code_bytes(ens, target, layout, terms, packed)


def choose_layout(ens: Ensemble, target: Target, level: str, budget: FlashBudget = FlashBudget()) -> Layout:
    """Os: the smaller layout; other levels: inline (faster) unless it exceeds the budget."""
    packed = level == "Os"
    inline, table = flash_bytes(ens, target, Layout.INLINE), flash_bytes(ens, target, Layout.TABLE, packed=packed)
    if packed:
        return Layout.INLINE if inline < table else Layout.TABLE
    limit = budget.limit(target)
    return Layout.INLINE if limit is None or inline <= limit else Layout.TABLE


@dataclass(frozen=True)
class Point:
    """One shape a C build can take, for the speed/size choice: the layout and how its
    walk reaches the sums. ``quick``: a first inline walk on byte sums decides most rows
    (8-bit cores); ``leaf_sums``: inline leaves add fixed-point class values in code (8-bit
    cores; 32-bit ones where the budget allows), else they record their rows and the sums come from the leaf table;
    ``packed``: table records packed into fewer bytes, slower to unpack; ``keyed``: behind
    the first walk, the walk recording rows compares int16 feature keys computed per row
    (AVR float inputs: smaller, slower on the rows the first walk leaves); ``byte_sums``:
    one walk adds the first walk's byte sums and records rows, the rows they leave
    undecided are summed from the leaf table (no second walk); ``guarded``: the inline
    tests assume no NaN, a guard reading each feature's upper byte sends the rows that
    may hold one to the table walk (AVR float inputs: about 40% less code a split, 6
    cycles a feature read); ``stored``: the table walk's leaf records store each entry's
    fixed-point value, not a multiplier (a byte more per entry for two less per row; two
    multiplications fewer per entry where the target adds records fast); ``head``: the
    half-word table walk starts past inline tests of the top ``head`` levels of every tree
    and ``head_more`` nodes below them, those rows reach most often (:func:`inline_head`;
    AVR float inputs: about 17 cycles less a test than the walk's, 8 more a tree, 30
    bytes a test); ``float_adds``: each tree adds its leaf to the float sums in software
    (8-bit cores: boosting's float leaves where no fixed-point plan sums them; the plan
    sets it, :data:`_FLOAT_SUM_TREE`)."""

    layout: Layout
    quick: bool = False
    leaf_sums: bool = False
    packed: bool = False
    keyed: bool = False
    byte_sums: bool = False
    guarded: bool = False
    stored: bool = False
    head: int = 0
    head_more: int = 0
    float_adds: bool = False

    def label(self) -> str:
        if self.layout is Layout.TABLE:
            walk = "table, packed records" if self.packed else "table, leaf values stored" if self.stored else "table"
            tests = f"{self.head_more} test" + "s" * (self.head_more > 1)
            if self.head:
                walk += f", inline head of {self.head} level" + "s" * (self.head > 1)
                walk += f" and {tests} below" if self.head_more else ""
            elif self.head_more:
                walk += f", inline head of {tests}"
            return walk
        if self.quick:
            walk = "inline, byte-sum first walk" + (", int16 keys behind it" if self.keyed else "")
        elif self.byte_sums:
            walk = "inline, byte sums in code, leaf table behind"
        else:
            walk = "inline, leaf sums in code" if self.leaf_sums else "inline, leaf table"
        return walk + (", NaN-free tests (NaN rows: table walk)" if self.guarded else "")


#: cycles of one node test, per layout (8-bit cores without FPU; 32-bit cores), float or
#: integer inputs, and of a tree's leaf per output, per walk. Fitted to simavr runs of
#: digits forests (10x6 and 20x5, float and int16) on the ATmega2560; the 32-bit figures
#: are rough. "halves": the table walk of half-word records (ATmega328P, digits 10x6, the
#: trees' calls included: float32 2,458 cycles for 59.4 node tests a row; int16 1,980 for
#: 58.1, uint8 1,851).
#: Estimates for ranking builds, not a promise.
_TEST_CYCLES = {
    (True, "inline"): (10, 4), (True, "table"): (90, 55), (True, "packed"): (115, 60), (True, "halves"): (41, 34),
    (False, "inline"): (3, 2), (False, "table"): (15, 10), (False, "packed"): (20, 14), (False, "halves"): (15, 15),
}
#: int32 records' tests over the integer ones above: four bytes through a subtract chain or
#: the C step (ATmega328P, simavr, digits 10x6 --input int32, stored leaf values, heads of
#: 0-5 levels: 3,526, 3,463, 3,355, 3,272, 3,211, 3,142 cycles, 11.8 a test above int16's)
_HALF_INT32_TEST = 12
#: int16 keys behind the first walk, per feature and prediction: about 40 cycles a feature
#: on the rows that reach that walk (digits 10x6: 1 of 30 rows, +105 cycles a prediction)
_KEYS_CYCLES = 2
#: NaN-free tests (Point.guarded): cycles saved per node test, and the guard's per
#: feature it reads (AVR: load, mask, compare, branch; digits 10x6: 53 features, +230
#: to +290 cycles a prediction)
_NO_NAN_TEST_SAVING, _GUARD_CYCLES = 1, 6
#: the table walk's inline head (Point.head): cycles saved per test it takes from the walk,
#: and its call per tree, float records (ATmega328P, simavr, digits 10x6 float, stored leaf
#: values, no early exit, heads of 0-6 levels: 3,225, 3,132, 2,969, 2,808, 2,660, 2,511,
#: 2,376 cycles; least squares with the node tests at 41: 17.1 a test saved, 10.3 a call)
#: or integer records (int16, the same forest: 3,022, 2,947, 2,825, 2,705, 2,607, 2,506,
#: 2,428; least squares 10.8 a test, 2.1 a call: the walk's integer test is cheaper to save;
#: uint8 records' heads test one byte, measured before P_trees: 3,390, 3,328, 3,177, 3,026,
#: 2,879, 2,740, 2,625, 14.6 a test; int32, before P_trees, heads of 0, 2 and 4 levels:
#: 4,022, 3,895, 3,751, about 9 a test)
_HEAD_SAVING = {"float32": 17, "int32": 9, "int16": 11, "uint16": 11, "int8": 14, "uint8": 14}
_HEAD_ENTRY = {"float32": 10, "int32": 2, "int16": 2, "uint16": 2, "int8": 2, "uint8": 2}
#: "records": the speed levels' table walk adding leaf records in assembly as each tree's
#: walk ends (Target.fast_leaf_records, tree_runs), against "table", the sparse tables' C
#: loop; "stored": records holding the fixed-point values (Point.stored), a byte more per
#: entry for no multiplications (ATmega328P, simavr, digits 10x6 float, no early exit, heads
#: of 0-6 levels: multipliers 3,781, 3,744, 3,611, 3,313, 3,165, 3,016, 2,880 cycles, stored
#: as above; least squares 11.0 and 5.5 a record output)
_LEAF_CYCLES = {
    (True, "quick"): 3, (True, "sums"): 5, (True, "bytes"): 9, (True, "rows"): 27, (True, "table"): 20,
    (True, "records"): 11, (True, "stored"): 5.5,
    (False, "quick"): 2, (False, "sums"): 2, (False, "bytes"): 2, (False, "rows"): 3, (False, "table"): 4,
    (False, "records"): 4, (False, "stored"): 4,
}

#: boosting's soft-float sums on 8-bit cores (Point.float_adds): cycles a tree's leaf
#: takes (the leaf's float read, libgcc's float add, the tree's output column) and an
#: output takes around the trees (its base score, the float argmax), in place of the
#: fixed-point leaf terms above and _row_cycles' 20. Least squares over simavr runs
#: (ATmega328P, -O2 builds without the exit, table walks behind heads of 0-3 levels and
#: grown heads, and the inline walk; digits, depth 3): XGBoost 5/10/20 rounds of 10
#: classes, LightGBM and scikit-learn GradientBoosting 10 rounds, binary XGBoost 60
#: trees; 24 builds, 164.8 a tree and 136.4 an output, all within 4.1% (the forests'
#: 20 an output of every tree estimated them 1-10% high on 10 classes, less than half
#: on the binary model)
_FLOAT_SUM_TREE, _FLOAT_SUM_OUTPUT = 165, 136


#: one lossy early-exit check on the AVR table walk: the band check on the 16-bit sums
#: (ATmega328P, digits 20x5, simavr runs checking every tree and every second tree: 9,478
#: -> 8,247 cycles for 5.3 fewer checks and 0.6 more trees)
_BAND_CHECK_CYCLES = 290


def checks_cost_trees(ens: Ensemble, target: Target, layout: Layout | str | None) -> bool:
    """Does an early-exit check cost about as much as a tree (the AVR table walk of
    half-word records), so that checks are spaced out (:func:`exit_batch`)?"""
    return layout == Layout.TABLE and target.word_bits == 8 and half_word_table(ens, target) and ens.n_trees >= 2


def round_trees(ens: Ensemble) -> int:
    """Trees in one round, between two of the early exit's check points: one per class for
    one-tree-per-class boosting, else one."""
    return max(1, ens.n_outputs // ens.leaf_width)


def exit_batch(ens: Ensemble, target: Target, layout: Layout | str | None, evaluated: float | None = None) -> int:
    """How many rounds of trees (:func:`round_trees`) a lossy early exit lets pass between
    its checks, where checks cost about as much as trees (the AVR table walk of half-word
    records: :func:`_batch` with the band check's :data:`_BAND_CHECK_CYCLES`; ``evaluated``:
    the trees a row evaluates, measured on calibration rows, else half the model). Digits
    on the ATmega328P, the fastest of 1-4 in simavr: 10x6 2 and 20x5 3 (4,131 and 7,513
    cycles against 4,305 and 9,478 checking every tree, with the sparse leaf tables the
    band check reads). Elsewhere 1."""
    if not checks_cost_trees(ens, target, layout):
        return 1
    # the band check reads the sparse leaf tables: no leaf records then
    walked = replace(target, fast_leaf_records=False)
    return _batch(ens, _BAND_CHECK_CYCLES, cycles(ens, walked, Point(layout=Layout.TABLE)) / ens.n_trees, evaluated)


def _batch(ens: Ensemble, check: float, tree: float, evaluated: float | None = None) -> int:
    """Checking every ``b`` rounds saves ``E (1 - 1/b)`` checks and stops ``(b - 1) / 2``
    rounds later on average, so ``b = floor(sqrt(2 E C / T))`` with ``E`` the rounds a row
    evaluates (``evaluated`` trees, else half the model), ``C`` a check's cycles (``check``)
    and ``T`` a round's (``tree`` a tree)."""
    per = round_trees(ens)
    rounds = ens.n_trees // per
    done = rounds / 2 if evaluated is None else evaluated / per
    return max(1, min(rounds, int(np.sqrt(2 * done * check / (tree * per)))))


#: the exact exit on the AVR table walk over leaf records: a check's cycles per output it
#: reads (the runner-up's lead, then each output's bounds) and, per tree, the walk's test
#: for a check point, fitted to the rows each check stopped (ATmega328P, -O2, digits on
#: simavr against the same point without the exit: 10x6 behind a 4-level head 3,233
#: cycles, 3,339 checking after tree 6, 3,366 after 7, 3,380 after both; 20x5 behind 2
#: levels 6,326, 6,110 at 12 and 15, 6,163 at 12, 14 and 16, 6,399 at 12, 6,140 at 15,
#: 6,740 at 11-17; 30x6 12,157, 10,115 every third tree, 10,393 every second; since P_fast
#: runs the trees between checks 50 a check's output, with which 30x6 takes 3 of intervals
#: 2-5, as simavr counts fastest: float 8,666 cycles, int16 8,354, where 60 took 5 on
#: int16, 8,629); the share of its trees' leaves' leads a row keeps over the runner-up
#: (some trees vote otherwise)
#: and how much wider its lead spreads than theirs taken alike, fitted to the rows each
#: check stops (interpreter, digits test rows: 10x6 after 6-9 trees 37%, 63%, 93%, 93%;
#: 20x5 after 12-15 33%, 53%, 67%, 80%)
_EXACT_CHECK_OUTPUT, _EXACT_CHECK_TREE, _LEAD_SPREAD, _LEAD_KEPT = 50, 12, 3.0, 0.9
#: the same check on float sums (soft float on AVR: the IR's own float32 sums, or float
#: sums against float64 bounds), per output, fitted by least squares to the rows each
#: check stopped (ATmega328P, -O2, digits boosting of 10 classes depth 3 on simavr, checks
#: every 1-4 rounds against the build without: XGBoost 10 rounds 2,192 cycles a check,
#: 20 rounds 2,381, LightGBM 10 rounds 1,941, scikit-learn GradientBoosting 10 rounds 2,242)
_FLOAT_CHECK_OUTPUT = 220


def stop_shares(ens: Ensemble, checkpoints: np.ndarray) -> np.ndarray:
    """Per check point (trees before it), the share of rows an exact check there stops,
    estimated from the IR's bounds: a row's lead over the runner-up after ``j`` trees is
    taken as :data:`_LEAD_KEPT` of the sum of ``j`` leaves' leads (each leaf equally
    likely), spread :data:`_LEAD_SPREAD` times wider, against the lead the bounds need
    (:func:`_needed_lead`)."""
    leads = []
    for tree in ens.trees:
        values = np.asarray(ens.leaves, dtype=np.float64)[tree.leaf[tree.op == Op.LEAF]]
        ordered = np.sort(values, axis=1)
        leads.append(np.abs(ordered[:, -1]) if ens.n_outputs == 1 else ordered[:, -1] - ordered[:, -2])
    mean = _LEAD_KEPT * np.concatenate([[0.0], np.cumsum([lead.mean() for lead in leads])])
    spread = _LEAD_SPREAD * np.sqrt(np.concatenate([[0.0], np.cumsum([lead.var() for lead in leads])]))
    z = (mean[checkpoints] - _needed_lead(ens, checkpoints)) / np.maximum(spread[checkpoints], 1e-300)
    return np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])


def _needed_lead(ens: Ensemble, checkpoints: np.ndarray) -> np.ndarray:
    """Per check point, the lead over the runner-up the early exit's bounds ask of a row:
    the mean over classes of the widest gap to another class (one output: half the
    bounds' width)."""
    ee = ens.early_exit
    assert ee is not None
    at = np.searchsorted(ee.checkpoints, checkpoints)
    lower, upper = np.asarray(ee.lower, dtype=np.float64)[at], np.asarray(ee.upper, dtype=np.float64)[at]
    if ens.n_outputs == 1:
        return (upper[:, 0] - lower[:, 0]) / 2
    gaps = upper[:, None, :] - lower[:, :, None]  # [check, class, other]
    gaps[:, np.arange(ens.n_outputs), np.arange(ens.n_outputs)] = -np.inf
    return gaps.max(axis=2).mean(axis=1)


def round_stop_shares(ens: Ensemble, checkpoints: np.ndarray) -> np.ndarray:
    """:func:`stop_shares` for one-tree-per-class boosting, whose leaf rows hold one class
    each: per check point, ``sqrt(1 - need / reach)`` of the rows stop (none where the
    bounds need more), with ``need`` :func:`_needed_lead` and ``reach`` the lead the trees before it
    can build, the mean over classes of their trees' largest leaves less the mean over
    classes of the smallest. Fitted to the interpreter on digits (600 rows, 10 classes,
    depth 3; the share stopped by each round against need / reach): at most 0.025, 0.05
    and 0.02 off on XGBoost 5 and 10 rounds and LightGBM 10 rounds (XGBoost 10: 0, 0.38,
    0.63, 0.79, 0.89 after rounds 3-7 at 1.20, 0.87, 0.61, 0.45, 0.30; the rule 0, 0.36,
    0.62, 0.74, 0.84); XGBoost 20 rounds 0.18 (0.43 for 0.26 after round 8, first to
    stop any) and scikit-learn GradientBoosting 10 rounds 0.30 (0.35 for 0.04 after
    round 4): the rule stops rows one check early there, not at the wrong end."""
    k = ens.n_outputs
    leaves = np.asarray(ens.leaves, dtype=np.float64)
    top = np.zeros((ens.n_trees + 1, k))
    low = np.zeros(ens.n_trees + 1)
    for i, tree in enumerate(ens.trees):
        values = leaves[tree.leaf[tree.op == Op.LEAF]].ravel()
        top[i + 1] = top[i]
        top[i + 1, int(ens.tree_output[i])] += values.max()
        low[i + 1] = low[i] + values.min()
    reach = top.mean(axis=1) - low / k
    ratio = _needed_lead(ens, checkpoints) / np.maximum(reach[checkpoints], 1e-300)
    return np.sqrt(np.clip(1 - ratio, 0.0, 1.0))


def exact_exit_interval(ens: Ensemble, target: Target, point: Point, checkpoints: np.ndarray,
                        float_sums: bool = False) -> int:
    """The interval (in trees) between the exact exit's checks (of those at
    ``checkpoints``, the ones it can make: exit_checks) that saves the most cycles on the
    AVR table walk of ``point``, or 0 where no interval saves any: checks at ``S`` cost
    each row reaching one a check (:data:`_EXACT_CHECK_OUTPUT` per output, or
    :data:`_FLOAT_CHECK_OUTPUT` where it reads ``float_sums``) plus
    :data:`_EXACT_CHECK_TREE` a tree, and save the trees after the check a row stops at
    (:func:`stop_shares`). A packed walk is -Os's, where size comes first: of the
    intervals that save cycles, the one with the fewest checks (each costs its bounds'
    flash), then the most saved. Float checks are weighed on every AVR walk: the inline
    walk's trees cost a fraction of one (binary XGBoost, digits 20 trees of depth 3, inline
    on the ATmega328P: 7,517 cycles checking after every tree, 3,704 without the exit,
    3,243 checking after tree 13, as it does).

    One-tree-per-class boosting weighs whole rounds with :func:`round_stop_shares` (its
    trees add one class each, where stop_shares reads a forest's every-class leaf rows).
    simavr, ATmega328P -O2 at the default budget, digits 10 classes depth 3, the interval
    this picks against no exit (the _batch rule, in rounds, kept the exit always):
    XGBoost 5 rounds one check after round 3, 12,552 cycles against 13,783 (every round,
    15,262); 10 rounds after round 5, 22,405 against 28,582 (every second, 23,609); 20
    rounds every fourth, 42,538 against 58,441 (every third, 43,997); LightGBM 10 rounds
    after round 5, 23,869 against 30,321 (26,699); scikit-learn GradientBoosting 10
    rounds after round 5, 24,099 against 28,542 (every second, 28,862). Binary XGBoost
    60 trees of depth 3 (the forest rule): every 7 trees, 13,006 against 14,951."""
    n = ens.n_trees
    soft = float_sums and target.word_bits == 8 and target.half_word_tests  # AVR: a float check outweighs any tree
    if n < 2 or not (checks_cost_trees(ens, target, point.layout) or soft):
        return 1
    tree = (cycles(ens, target, point) - _row_cycles(ens, point)) / n + _EXACT_CHECK_TREE
    check = (_FLOAT_CHECK_OUTPUT if float_sums else _EXACT_CHECK_OUTPUT) * ens.n_outputs
    per = round_trees(ens)
    share = round_stop_shares(ens, checkpoints) if per > 1 else stop_shares(ens, checkpoints)
    paying: list[tuple[int, float, int]] = []  # (checks, cycles, interval) of those that save cycles
    for b in range(per, n + 1, per):
        chosen = checkpoints % b == 0
        if not chosen.any():
            continue
        stopped, cost = 0.0, float(n * _EXACT_CHECK_TREE)
        for j, p in zip(checkpoints[chosen].tolist(), share[chosen].tolist()):
            cost += (1 - stopped) * check
            now = max(stopped, p)
            cost -= (now - stopped) * (n - j) * tree
            stopped = now
        if cost < 0:
            paying.append((int(chosen.sum()), cost, b))
    if not paying:
        return 0
    return min(paying, key=lambda o: (o[0], o[1]) if point.packed else o[1])[2]


def expected_tests(ens: Ensemble) -> float:
    """Node tests per row, every leaf path of a tree equally likely: within 3% of the
    measured path length of digits forests (the IR keeps no sample counts)."""
    return ens.trees_fact("#expected_tests", _expected_tests)


def _expected_tests(ens: Ensemble) -> float:
    return sum(paths.lengths[0] / max(paths.paths[0], 1) for paths in map(_leaf_paths, ens.trees))


class _LeafPaths(NamedTuple):
    """Per node of a tree: the leaf paths below it (a shared subtree once per path in),
    their lengths summed, and the most levels below it."""

    paths: list[int]
    lengths: list[int]
    levels: list[int]


def _leaf_paths(tree: Tree) -> _LeafPaths:
    from .passes.trees.walk import postorder  # the passes build on this module

    leaf = (tree.op == Op.LEAF).tolist()
    left, right = tree.left.tolist(), tree.right.tolist()
    paths, lengths, levels = [1] * tree.n_nodes, [0] * tree.n_nodes, [0] * tree.n_nodes
    for node in postorder(tree):
        if not leaf[node]:
            a, b = left[node], right[node]
            paths[node] = paths[a] + paths[b]
            lengths[node] = lengths[a] + lengths[b] + paths[node]
            levels[node] = 1 + max(levels[a], levels[b])
    return _LeafPaths(paths, lengths, levels)


#: the most levels an inline head (Point.head) may test: 2^k - 1 tests a tree
HEAD_LEVELS = 6


@dataclass(frozen=True)
class Head:
    """The decision nodes an inline head tests, per tree, each named by its path from the
    root as a heap index (root 1, children 2i left and 2i + 1 right; a shared subtree once
    per path in, as the head's code has it): ``tests`` a row takes there (each leaf path
    equally likely, as in :func:`expected_tests`); ``levels`` and ``more``: the
    :class:`Point` fields that name it, as far as the trees have the nodes they ask for."""

    nodes: tuple[frozenset[int], ...]
    tests: float
    levels: int
    more: int

    @property
    def size(self) -> int:
        return sum(map(len, self.nodes))

    def depths(self) -> list[int]:
        """Levels each tree's head tests (0: that tree goes straight to the table walk)."""
        return [max(n.bit_length() for n in tree) if tree else 0 for tree in self.nodes]

    def note(self) -> str:
        """Its depths, deepest first: ``levels 5 in 3 trees, 4 in 7``."""
        depths = self.depths()
        counts = sorted({d: depths.count(d) for d in depths}.items(), reverse=True)
        return "levels " + ", ".join(f"{d} in {n} tree" + "s" * (n > 1) if i == 0 else f"{d} in {n}"
                                     for i, (d, n) in enumerate(counts))


def inline_head(ens: Ensemble, levels: int, more: int = 0) -> Head:
    """The head of ``Point(head=levels, head_more=more)``: every tree's top ``levels``
    levels, then the ``more`` nodes below them a row reaches most often (highest share of
    leaf paths first; a child's share is below its parent's, so each tree's head stays a
    connected top part). Every node costs the same code, so these save the most cycles
    per byte."""
    return ens.trees_fact(f"#inline_head {levels} {more}", lambda e: _inline_head(e, levels, more))


def _inline_head(ens: Ensemble, levels: int, more: int) -> Head:
    nodes: list[set[int]] = [set() for _ in ens.trees]
    shares = [np.asarray(paths) / paths[0] for paths in (_leaf_paths(tree).paths for tree in ens.trees)]
    tests = 0.0
    top: list[tuple[int, int, int]] = []  # (tree, node, heap index) within the top levels
    below: list[tuple[float, int, int, int]] = []  # (-share, tree, heap index, node): the nodes next in line

    def reach(t: int, node: int, at: int) -> None:
        if ens.trees[t].op[node] == Op.LEAF:
            return
        if at.bit_length() <= levels:
            top.append((t, node, at))
        else:
            heapq.heappush(below, (-float(shares[t][node]), t, at, node))

    def take(t: int, node: int, at: int) -> None:
        nonlocal tests
        nodes[t].add(at)
        tests += float(shares[t][node])
        reach(t, int(ens.trees[t].left[node]), 2 * at)
        reach(t, int(ens.trees[t].right[node]), 2 * at + 1)

    for t in range(ens.n_trees):
        reach(t, 0, 1)
    while top:
        take(*top.pop())
    reached = max((at.bit_length() for tree in nodes for at in tree), default=0)
    taken = 0
    while below and taken < more:
        _, t, at, node = heapq.heappop(below)
        take(t, node, at)
        taken += 1
    head = tuple(frozenset(n) for n in nodes)
    if taken:  # named by the most levels it holds whole: one name for one head (the tests
        # below them come in the same order whatever levels they were counted from)
        deepest = max(at.bit_length() for tree in head for at in tree)
        whole = [inline_head(ens, k) for k in range(reached, deepest + 1)]
        reached, taken = max(((u.levels, sum(map(len, head)) - u.size) for u in whole
                              if all(a <= b for a, b in zip(u.nodes, head))), key=lambda lt: lt[0])
    return Head(head, tests, reached, taken)


def head_room(ens: Ensemble, levels: int, spare: int) -> int:
    """How many head tests below the top ``levels`` levels ``spare`` bytes of flash hold,
    by the cost model (with no levels, the head's call and a function a tree come first)."""
    if not levels:
        spare -= _HEAD_CODE + ens.n_trees * _HEAD_TREE
    return max(0, spare // _HEAD_NODE[ens.input_type])


def _row_cycles(ens: Ensemble, point: Point) -> int:
    """Cycles of a prediction around its trees: the call, the sums' setup and decision
    (:data:`_FLOAT_SUM_OUTPUT` an output on soft-float sums, ``point.float_adds``)."""
    return (_FLOAT_SUM_OUTPUT if point.float_adds else 20) * ens.n_outputs + 100


def cycles(ens: Ensemble, target: Target, point: Point) -> int:
    """Estimated cycles of one prediction of a ``point`` build (see :data:`_TEST_CYCLES`)."""
    small = target.word_bits == 8
    kind = ("inline" if point.layout is Layout.INLINE else "packed" if point.packed else
            "halves" if half_word_table(ens, target) else "table")
    test = _TEST_CYCLES[small, kind][0 if ens.input_type.startswith("float") else 1]
    if kind == "halves" and ens.input_type == "int32":
        test += _HALF_INT32_TEST
    records = target.fast_leaf_records and not point.packed and ens.leaf_width >= 2  # (count leaves, as forests')
    table = "table" if not records else "stored" if point.stored else "records"
    walk = (table if point.layout is Layout.TABLE else "quick" if point.quick else
            "bytes" if point.byte_sums else "sums" if point.leaf_sums else "rows")
    # a forest's leaf holds every output; a boosted tree's holds its own class's
    width = ens.leaf_width if small and ens.aggregation is Aggregation.SUM else ens.n_outputs
    leaf = (_FLOAT_SUM_TREE if point.float_adds else _LEAF_CYCLES[small, walk]) * width
    keys = _KEYS_CYCLES * ens.n_features if point.keyed else 0
    if point.guarded:
        test -= _NO_NAN_TEST_SAVING
        keys += _GUARD_CYCLES * split_features(ens).size
    saving, entry = _HEAD_SAVING.get(ens.input_type, 0), _HEAD_ENTRY.get(ens.input_type, 0)
    tests = inline_head(ens, point.head, point.head_more).tests if point.head or point.head_more else 0
    head = tests * saving - ens.n_trees * entry if tests else 0
    return int(expected_tests(ens) * test - head + ens.n_trees * leaf + _row_cycles(ens, point) + keys)
