"""Byte estimates of a model in the two code layouts, and the choice between them.

``table``: the smaller of two record encodings the C backend chooses from
(:mod:`emlc.backends.c.walk_table`): one record per split (feature index, threshold,
right child reference, and the left one unless every split's left child is the next
split), a root reference per tree, plus the leaf table, a child reference naming a
split or a leaf-table row; or decision records only, each one word holding the left
subtree's split count, its flags and an index into the sorted distinct thresholds
(stored once each), with leaves numbered in order and mapped to rows when shared. Leaf tables are counted as the backend stores them (target widths,
sparse rows when smaller).
``inline``: nested ``if``s, about ``target.inline_bytes_per_node`` of machine code per
split and half that per leaf (which indexes the same leaf table).
Both add rank edges, category bitsets and early-exit bounds. These are estimates
for choosing a layout and comparing passes, not a promise of the linker's size.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Ensemble, Op
from ..targets import Target
from .narrow_types import index_bytes

LAYOUTS = ("inline", "table")
#: at speed levels the inline layout is used while it takes at most this share of flash.
INLINE_FLASH_SHARE = 0.5


def _leaf_bytes(ens: Ensemble, target: Target) -> int:
    """The leaf table as the C backend stores it: each value in the target's width
    (``double`` is 4 bytes where it is 32-bit), and multi-output float rows sparsely
    (row starts, a column byte and a value per nonzero entry) when that is smaller."""
    leaves = np.asarray(ens.leaves)
    size = leaves.dtype.itemsize
    if leaves.dtype.kind == "f" and size == 8 and not target.has_double:
        size = 4
    dense = leaves.size * size
    if leaves.dtype.kind != "f" or ens.leaf_width < 2:
        return int(dense)
    sparse = (leaves.shape[0] + 1) * 2 + int(np.count_nonzero(leaves)) * (size + 1)
    return int(min(dense, sparse))


def _shared_bytes(ens: Ensemble, target: Target) -> int:
    """Bytes both layouts need: leaf table, bitsets, rank edges, early-exit bounds."""
    total = _leaf_bytes(ens, target) + ens.cat_sets.size * 4
    edge_bytes = 4 if ens.input_type != "float64" else 8
    total += sum(r.edges.size * edge_bytes for r in ens.feature_ranks if r is not None)
    if ens.early_exit is not None:
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


def table_bytes(ens: Ensemble, target: Target) -> int:
    splits = ens.n_nodes - ens.n_leaves
    ref = index_bytes(2 * max(splits, ens.leaves.shape[0]))
    node = index_bytes(ens.n_features) + _threshold_bytes(ens, target) + ref * (1 if _left_is_next(ens) else 2)
    records = splits * node
    if splits:
        records = min(records, _counted_records(ens, target))
    return int(records + ens.n_trees * ref + _shared_bytes(ens, target))


def _threshold_pairs(ens: Ensemble) -> np.ndarray:
    """The feature of each distinct (feature, threshold) pair of the splits."""
    inner = ens.column("op") != Op.LEAF
    feature = ens.column("feature")[inner].astype(np.int64)
    if not feature.size:
        return feature
    codes = np.unique(ens.column("threshold")[inner], return_inverse=True)[1].astype(np.int64).ravel()
    pairs = np.unique(feature * (int(codes.max()) + 1) + codes)
    return pairs // (int(codes.max()) + 1)


def _counted_records(ens: Ensemble, target: Target) -> int:
    """Decision records packed in one word (counted encoding): split count of the left
    subtree, flags (right leaf, NaN, category) and an index into the distinct thresholds,
    which are stored once (ranked features' thresholds are their edges, counted with the
    shared bytes); a leaf-row map when leaf rows are shared between leaves."""
    op = ens.column("op")
    inner = op != Op.LEAF
    pair_features = ens.trees_fact("#threshold_pairs", _threshold_pairs)
    ranked = np.array([r is not None for r in ens.feature_ranks] or [False] * ens.n_features)
    unranked = int(np.count_nonzero(~ranked[pair_features]))
    keys = unranked * _threshold_bytes(ens, target) + 2 * ens.n_features
    per_tree = (ens.node_counts() - 1) // 2
    cbits = max(int(per_tree.max() // 2).bit_length(), 1)  # a left subtree: about half a balanced tree
    flags = 1 + int(ens.input_type.startswith("float")) + int(bool((op == Op.CAT).any()))
    bits = cbits + flags + max(int(pair_features.size - 1).bit_length(), 1)
    word = 1 if bits <= 8 else 2 if bits <= 16 else 4 if bits <= 32 else 8
    leaves = ens.n_leaves
    lmap = leaves * index_bytes(ens.leaves.shape[0]) if ens.leaves.shape[0] < 0.9 * leaves else 0
    return int(np.count_nonzero(inner)) * word + keys + lmap


def inline_bytes(ens: Ensemble, target: Target) -> int:
    splits = ens.n_nodes - ens.n_leaves
    node = target.inline_bytes_per_node(ens.input_type)
    code = splits * node + ens.n_leaves * (node // 2)
    return int(code + _shared_bytes(ens, target))


def model_bytes(ens: Ensemble, target: Target, layout: str) -> int:
    return inline_bytes(ens, target) if layout == "inline" else table_bytes(ens, target)


def choose_layout(ens: Ensemble, target: Target, level: str) -> str:
    """Os: the smaller layout; other levels: inline (faster) unless it crowds the flash."""
    inline, table = inline_bytes(ens, target), table_bytes(ens, target)
    if level == "Os":
        return "inline" if inline < table else "table"
    if target.flash_bytes is None or inline <= INLINE_FLASH_SHARE * target.flash_bytes:
        return "inline"
    return "table"
