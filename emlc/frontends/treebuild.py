"""Shared machinery for frontends that walk a library's node arrays into IR trees.

Converters emit IR nodes one source node at a time; a child may be named by its
*source* node (``Src``) before that node has an IR index, so a converter can put
guard nodes in front of the node they protect and share subtrees (DAGs) freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable, Sequence

import numpy as np

from ..errors import EmlcError
from ..ir.ensemble import Op, Tree

#: categories a bitset row may hold (2 MiB per row at the bound).
MAX_CATEGORY = 1 << 24


@dataclass(frozen=True)
class Src:
    """A child given by its source node, resolved to the node's entry when the tree is built."""

    key: Hashable


Child = int | Src

#: op codes as plain ints for the per-node paths (an enum member look-up costs about a microsecond).
_LEAF, LE = int(Op.LEAF), int(Op.LE)


@dataclass
class SourceTreeBuilder:
    """An IR tree built from a library's source nodes: its columns, filled node by node."""

    cols: dict[str, list] = field(
        default_factory=lambda: {c: [] for c in Tree.COLUMNS}
    )
    pending: list[tuple[int, str, Hashable]] = field(default_factory=list)

    def add(
        self,
        op: Op,
        *,
        feature: int = -1,
        threshold: float = 0.0,
        default_left: bool = False,
        left: Child = -1,
        right: Child = -1,
        leaf: int = -1,
        cat: int = -1,
    ) -> int:
        cols = self.cols
        index = len(cols["op"])
        # Plain appends, no per-node dict: converters call this for every node of big models.
        if isinstance(left, Src):
            self.pending.append((index, "left", left.key))
            left = -1
        if isinstance(right, Src):
            self.pending.append((index, "right", right.key))
            right = -1
        cols["op"].append(int(op))
        cols["feature"].append(feature)
        cols["threshold"].append(threshold)
        cols["default_left"].append(default_left)
        cols["left"].append(left)
        cols["right"].append(right)
        cols["leaf"].append(leaf)
        cols["cat"].append(cat)
        return index

    def link(self, index: int, side: str, target: int) -> None:
        """Point an already added node's ``side`` child at IR node ``target``."""
        self.cols[side][index] = target

    def leaf(self, row: int) -> int:
        return self.add(_LEAF, leaf=row)

    def finish(self, entry: dict[Hashable, int], threshold_dtype: str) -> Tree:
        for index, side, key in self.pending:
            self.cols[side][index] = entry[key]
        return Tree.build(threshold_dtype=threshold_dtype, **self.cols)


Emit = Callable[[SourceTreeBuilder, Hashable], tuple[int, Sequence[Hashable]]]


def build_tree(root: Hashable, emit: Emit, threshold_dtype: str, what: str) -> Tree:
    """Walk a source tree from ``root``; ``emit`` adds one source node's IR nodes.

    ``emit(builder, key)`` returns the IR index a parent should point to and the
    source children it referenced. Source models are trees, so a node reached twice
    means a corrupt model (``what`` names the tree in the error).
    """
    builder = SourceTreeBuilder()
    entry: dict[Hashable, int] = {}
    seen = {root}
    stack = [root]
    while stack:
        key = stack.pop()
        entry[key], children = emit(builder, key)
        for child in reversed(children):
            if child in seen:
                raise EmlcError(f"{what}: node {child} is reached twice; the model file is corrupt")
            seen.add(child)
            stack.append(child)
    return builder.finish(entry, threshold_dtype)


@dataclass
class Tables:
    """Leaf rows and category bitsets shared by all trees of an ensemble."""

    leaf_rows: list[Sequence[float]] = field(default_factory=list)
    sets: list[np.ndarray] = field(default_factory=list)

    def add_leaf(self, row: Sequence[float]) -> int:
        self.leaf_rows.append(row)
        return len(self.leaf_rows) - 1

    def add_set(self, categories: Iterable[int], where: str = "a categorical split") -> int:
        """Register a category set (integers in [0, MAX_CATEGORY)) as a bitset row;
        ``where`` names the split in the error for a set outside that range."""
        cats = np.asarray(sorted(set(int(c) for c in categories)), dtype=np.int64)
        if cats.size and cats[0] < 0:
            raise EmlcError(f"{where} lists category {cats[0]}; categories are non-negative integers")
        if cats.size and cats[-1] >= MAX_CATEGORY:
            raise EmlcError(f"{where} lists category {cats[-1]}; emlc's bitsets hold categories below "
                            f"{MAX_CATEGORY:,} (recode the feature to smaller codes)")
        words = np.zeros(max(1, (int(cats[-1]) // 32 + 1) if cats.size else 1), dtype=np.uint32)
        np.bitwise_or.at(words, cats // 32, (np.uint32(1) << (cats % 32).astype(np.uint32)))
        self.sets.append(words)
        return len(self.sets) - 1

    def leaves(self, width: int, dtype: str) -> np.ndarray:
        table = np.asarray(self.leaf_rows, dtype=dtype)
        return table.reshape(len(self.leaf_rows), width)

    def cat_sets(self) -> np.ndarray:
        width = max((len(s) for s in self.sets), default=1)
        out = np.zeros((len(self.sets), width), dtype=np.uint32)
        for i, s in enumerate(self.sets):
            out[i, : len(s)] = s
        return out
