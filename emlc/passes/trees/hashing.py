"""Structural classes as 64-bit hashes, checked against the keys before anything rests on them.

Content ids say which leaf rows and category sets are bitwise equal; :class:`NodeKeys` is
what a node's class is made of besides its children. Hashes are only ever a way to group:
:func:`hash_collision` (and :func:`content_ids` for wide rows) compare the real keys of
every group, so a collision costs a slower path, never a wrong merge.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cached_property
from typing import Iterator

import numpy as np

from ...ir.ensemble import Ensemble
from .forest import Forest


class RecentContentIds:
    """The content ids of the last tables :func:`content_ids` classified, held weakly.

    Consecutive passes classify the same leaf table (only the leaf passes replace it), so
    remembering the last two saves a sort of the whole table per pass. Tables are held by
    weak reference: the memo never keeps a model alive, and a new table (even an equal
    copy) is classified anew.
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._entries: list[tuple[weakref.ref, np.ndarray]] = []

    def get(self, table: np.ndarray) -> np.ndarray | None:
        for ref, ids in self._entries:
            if ref() is table:
                return ids
        return None

    def put(self, table: np.ndarray, ids: np.ndarray) -> None:
        self._entries[:] = [(weakref.ref(table), ids), *self._entries[: self.size - 1]]


#: the process-wide memo of :func:`content_ids` (ids are read-only, so sharing them is safe).
RECENT = RecentContentIds()


def content_ids(table: np.ndarray) -> np.ndarray:
    """Per row of a 2-D table, the id of its first bitwise-equal row (-0.0 != 0.0; read-only)."""
    ids = RECENT.get(table)
    if ids is not None:
        return ids
    ids = _content_ids(table)
    ids.flags.writeable = False
    RECENT.put(table, ids)
    return ids


def _content_ids(table: np.ndarray) -> np.ndarray:
    if table.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    raw = np.ascontiguousarray(table)
    width = raw.dtype.itemsize * raw.shape[1]
    # Sorting integers is far cheaper than sorting raw bytes: a row of up to 8 bytes is one;
    # wider rows go by a 64-bit hash of their bytes, trusted once every row equals its pick.
    if width in (1, 2, 4, 8):
        return _first_equal(raw.view(f"u{width}")[:, 0])
    if width % 8 == 0:
        words = raw.view(np.uint64).reshape(raw.shape[0], -1)
        h = np.full(raw.shape[0], 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(words.shape[1]):
                h = mix(h, words[:, k])
        ids = _first_equal(h)
        if np.array_equal(words[ids], words):
            return ids
    return _first_equal(raw.view(np.dtype((np.void, width)))[:, 0])


def _first_equal(keys: np.ndarray) -> np.ndarray:
    """Per entry, the index of the first equal entry."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)].astype(np.int64)


def mix(h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One splitmix64-style round of ``x`` into ``h`` (uint64, wrapping)."""
    x = np.asarray(x)
    z = (h ^ (x if x.dtype == np.uint64 else x.astype(np.int64).view(np.uint64))) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True, eq=False)
class ContentClasses:
    """Content ids of an ensemble's leaf rows and category sets, shared by all its trees.

    Computed once per ensemble: sorting the whole leaf table for every tree made tree
    rewrites quadratic in the model size.
    """

    rows: np.ndarray
    cat: np.ndarray

    @cached_property
    def leaf(self) -> list[int]:
        """:attr:`rows` as a list, read per node by the per-tree builders."""
        return self.rows.tolist()

    @staticmethod
    def of(ens: Ensemble) -> "ContentClasses":
        return ContentClasses(content_ids(ens.leaves), content_ids(ens.cat_sets))


class NodeKeys:
    """What a node's structural class is made of besides its children: kind, then a leaf's
    row class or a split's test (threshold by bit pattern, category set by class), unused
    fields 0. Computed a column at a time for the nodes asked about: seven 8-byte columns
    for every node would dominate a pass's memory."""

    def __init__(self, fo: Forest, classes: ContentClasses) -> None:
        self.fo = fo
        self.leaf_class = classes.rows
        self.cat_class = classes.cat

    def columns(self, nodes: np.ndarray | slice = slice(None)) -> Iterator[np.ndarray]:
        fo = self.fo
        inner = fo.inner[nodes]
        yield inner.astype(np.int64)
        yield np.where(inner, 0, self.leaf_class[np.where(inner, 0, fo.leaf[nodes])])
        for col in (fo.op, fo.feature, fo.bits.view(np.int64), fo.dl):
            yield np.where(inner, col[nodes], 0)
        cat = fo.cat[nodes]
        cat_class = self.cat_class[np.maximum(cat, 0)] if self.cat_class.size else np.zeros(cat.size, np.int64)
        yield np.where(inner & (cat >= 0), cat_class, -1)

    def hashes(self) -> np.ndarray:
        """A 64-bit hash of every node's key."""
        own = np.full(self.fo.op.size, 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in self.columns():
                own = mix(own, k)
        return own

    def differ(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per pair, do nodes ``a[i]`` and ``b[i]`` have different keys?"""
        out = np.zeros(a.size, dtype=bool)
        for ka, kb in zip(self.columns(a), self.columns(b)):
            out |= ka != kb
        return out


def hash_collision(fo: Forest, h: np.ndarray, keys: NodeKeys, order: np.ndarray, by: np.ndarray) -> bool:
    """Do hashes fail to stand for classes? ``order`` lists nodes sorted by the hash ``by``
    (``h``, or ``h`` mixed with the tree when classes are per tree); neighbours with equal
    ``by`` must have equal keys, equal class hashes ``h`` and equal children's ``h``
    (and the same tree, when ``by`` is not ``h``). Checking neighbours checks every group."""
    pair = by[order[1:]] == by[order[:-1]]
    x, y = order[1:][pair], order[:-1][pair]
    differ = h[x] != h[y]
    if by is not h:
        differ |= fo.tree_of[x] != fo.tree_of[y]
    differ |= keys.differ(x, y)
    differ |= fo.inner[x] & ((h[fo.left[x]] != h[fo.left[y]]) | (h[fo.right[x]] != h[fo.right[y]]))
    return bool(differ.any())


def in_rank_order(rank: np.ndarray, nodes: np.ndarray, n: int) -> np.ndarray:
    """``nodes`` sorted by their distinct ranks in ``[0, n)`` (a scatter, not a sort)."""
    slots = np.full(n, -1, dtype=np.int64)
    slots[rank] = nodes
    return slots[slots >= 0]
