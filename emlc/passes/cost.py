"""Byte estimates of a model in the two code layouts, and the choice between them.

``table``: one record per split (feature index, threshold, right child reference,
and the left one unless every split's left child is the next split), a root
reference per tree, plus the leaf table; a child reference names a split or a
leaf-table row. Leaf tables are counted as the backend stores them (target widths,
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
    return int(splits * node + ens.n_trees * ref + _shared_bytes(ens, target))


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
