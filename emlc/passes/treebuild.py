"""Shared machinery for passes that rewrite trees: node renumbering and a tree builder.

Passes never edit node columns in place; they either renumber the reachable nodes
of a tree in a chosen order (:func:`renumber`) or emit a fresh tree bottom-up through
:class:`TreeBuilder`, which gives every emitted node a *structural class* (equal
classes compute the same leaf for every input) and, with ``share=True``, emits
each class once (hash-consing, which turns equal subtrees into one DAG node).

Big models go through the same rewrites on all trees at once: :class:`Forest` holds
every node back to back, level by level; structural classes become 64-bit hashes
that are checked against the nodes' keys before anything rests on them; DAGs are
expanded into trees (:func:`expand_dags`); results come back as whole-ensemble
columns (:class:`NodeTable`). Per-tree walks remain for what those cannot decide.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable, Iterator

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree


#: the last tables :func:`content_ids` classified (weakly held) and their ids: consecutive
#: passes classify the same leaf table, which only the leaf passes replace.
_RECENT: list[tuple[weakref.ref, np.ndarray]] = []


def content_ids(table: np.ndarray) -> np.ndarray:
    """Per row of a 2-D table, the id of its first bitwise-equal row (-0.0 != 0.0; read-only)."""
    for ref, ids in _RECENT:
        if ref() is table:
            return ids
    ids = _content_ids(table)
    ids.flags.writeable = False
    _RECENT[:] = [(weakref.ref(table), ids), *_RECENT[:1]]
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
                h = _mix(h, words[:, k])
        ids = _first_equal(h)
        if np.array_equal(words[ids], words):
            return ids
    return _first_equal(raw.view(np.dtype((np.void, width)))[:, 0])


def _first_equal(keys: np.ndarray) -> np.ndarray:
    """Per entry, the index of the first equal entry."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)].astype(np.int64)


def preorder(tree: Tree, root: int = 0) -> list[int]:
    """Nodes reachable from ``root`` in depth-first, left-first preorder; shared nodes listed once."""
    return _preorder(tree.left.tolist(), tree.right.tolist(), root)


def _preorder(left: list[int], right: list[int], root: int) -> list[int]:
    """:func:`preorder` on child lists (-1 on leaves), read as Python lists for speed."""
    seen = [False] * len(left)
    order: list[int] = []
    stack = [root]
    while stack:
        i = stack.pop()
        if seen[i]:
            continue
        seen[i] = True
        order.append(i)
        if left[i] >= 0:
            stack.append(right[i])
            stack.append(left[i])
    return order


def postorder(tree: Tree) -> list[int]:
    """Reachable nodes with every node after both of its children (a topological order)."""
    done = [False] * tree.n_nodes
    order: list[int] = []
    stack: list[tuple[int, bool]] = [(0, False)]
    op, left, right, leaf = tree.op.tolist(), tree.left.tolist(), tree.right.tolist(), int(Op.LEAF)
    while stack:
        i, expanded = stack.pop()
        if done[i]:
            continue
        if expanded or op[i] == leaf:
            done[i] = True
            order.append(i)
            continue
        stack.append((i, True))
        stack.append((right[i], False))
        stack.append((left[i], False))
    return order


def renumber(tree: Tree, order: Iterable[int]) -> Tree:
    """The tree with only the nodes in ``order``, numbered in that order (order[0] is the root)."""
    keep = np.asarray(list(order), dtype=np.int64)
    remap = np.full(tree.n_nodes, -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    cols = {c: getattr(tree, c)[keep] for c in Tree.COLUMNS}
    for c in ("left", "right"):
        old = cols[c]
        cols[c] = np.where(old >= 0, remap[np.maximum(old, 0)], -1).astype(np.int32)
    return Tree(**cols)


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


class TreeBuilder:
    """Emits copies of a source tree's nodes bottom-up and assembles them into a :class:`Tree`.

    A leaf is copied as is; a split keeps its test and gets new children. Node
    structural classes compare leaves by leaf-row content and categorical nodes by
    bitset content, so two subtrees with the same class route every input to equal
    leaf rows. The node columns are read once as Python lists and the new tree is
    gathered from the source columns in one step, so emitting costs a dict look-up.
    """

    def __init__(self, classes: ContentClasses, source: Tree, *, share: bool) -> None:
        self.share = share
        self.source = source
        self._leaf_class = classes.leaf
        self._leaf = source.leaf.tolist()
        thr = np.ascontiguousarray(source.threshold)
        bits = thr.view(f"u{thr.dtype.itemsize}")
        cat_class = np.where(source.cat >= 0, classes.cat[np.maximum(source.cat, 0)] if classes.cat.size else -1, -1)
        # A split's test, with the threshold by bit pattern (so -0.0 and 0.0 stay apart).
        self._test = list(zip(
            source.op.tolist(), source.feature.tolist(), bits.tolist(),
            source.default_left.tolist(), cat_class.tolist(),
        ))
        self._src: list[int] = []
        self._left: list[int] = []
        self._right: list[int] = []
        self._klass: list[int] = []
        self._classes: dict[tuple, int] = {}

    def _emit(self, key: tuple, src: int, left: int, right: int) -> int:
        k = self._classes.setdefault(key, len(self._classes))
        # Sharing emits one node per class, in class order, so node k is class k's node.
        if self.share and k < len(self._src):
            return k
        self._src.append(src)
        self._left.append(left)
        self._right.append(right)
        self._klass.append(k)
        return len(self._src) - 1

    def leaf(self, i: int) -> int:
        """A copy of source leaf ``i``."""
        return self._emit((self._leaf_class[self._leaf[i]],), i, -1, -1)

    def split(self, i: int, left: int, right: int) -> int:
        """Source split ``i`` over new children; if they are structurally equal, that child instead."""
        kl, kr = self._klass[left], self._klass[right]
        if kl == kr:
            return left
        return self._emit((*self._test[i], kl, kr), i, left, right)

    def tree(self, root: int) -> Tree:
        """The nodes reachable from ``root``, renumbered in preorder."""
        order = _preorder(self._left, self._right, root)
        return copy_nodes(self.source, np.asarray(self._src, dtype=np.int64), self._left, self._right, order).mark_preorder()


def copy_nodes(source: Tree, src: np.ndarray, left, right, order: list[int]) -> Tree:
    """A tree of new nodes ``order`` (in that order), node ``k`` a copy of source node
    ``src[k]`` with children ``left[k]``/``right[k]`` (new numbers, -1 on leaves).

    Copies are normalised as the IR expects: leaves without feature, threshold,
    default or category set, splits without leaf row.
    """
    order_a = np.asarray(order, dtype=np.int64)
    src = src[order_a]
    remap = np.full(len(left) + 1, -1, dtype=np.int32)  # index -1 (no child) stays -1
    remap[order_a] = np.arange(order_a.size, dtype=np.int32)
    is_leaf = source.op[src] == Op.LEAF
    cols = {c: getattr(source, c)[src] for c in Tree.COLUMNS}
    cols["left"] = remap[np.asarray(left, dtype=np.int64)[order_a]]
    cols["right"] = remap[np.asarray(right, dtype=np.int64)[order_a]]
    cols["feature"][is_leaf] = -1
    cols["threshold"][is_leaf] = 0
    cols["default_left"][is_leaf] = False
    cols["cat"][is_leaf] = -1
    cols["leaf"][~is_leaf] = -1
    return Tree(**cols)


def copied_nodes(ens: Ensemble, src: np.ndarray, left: np.ndarray, right: np.ndarray) -> dict[str, np.ndarray]:
    """Node columns of new trees back to back, node ``k`` a copy of ensemble node ``src[k]``
    (ensemble-wide number) with children ``left[k]``/``right[k]`` (new tree-local numbers;
    ignored on leaves), normalised as :func:`copy_nodes` does."""
    cols = {c: ens.column(c)[src] for c in Tree.COLUMNS}
    inner = cols["op"] != Op.LEAF
    cols["left"] = np.where(inner, left, -1).astype(np.int32)
    cols["right"] = np.where(inner, right, -1).astype(np.int32)
    cols["feature"][~inner] = -1
    cols["threshold"][~inner] = 0
    cols["default_left"][~inner] = False
    cols["cat"][~inner] = -1
    cols["leaf"][inner] = -1
    return cols


def resolved_preorder(fo: Forest, resolved: np.ndarray, emits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Preorder positions in the plain trees with every node replaced by the node it resolves
    to (``emits`` marks the nodes that stand for themselves; a split's children are its
    children's resolved nodes), and which nodes that tree holds: (position, held)."""
    n = fo.op.size
    res_left = np.where(fo.inner, resolved[np.maximum(fo.left, 0)], -1)
    res_right = np.where(fo.inner, resolved[np.maximum(fo.right, 0)], -1)
    size = np.ones(n, dtype=np.int64)
    for v in reversed(fo.levels):
        sv = v[fo.inner[v] & emits[v]]
        size[sv] = 1 + size[res_left[sv]] + size[res_right[sv]]
    held = np.zeros(n, dtype=bool)
    pos = np.zeros(n, dtype=np.int64)
    held[resolved[fo.starts[fo.plain]]] = True
    for v in fo.levels:
        sv = v[fo.inner[v] & emits[v] & held[v]]
        held[res_left[sv]] = held[res_right[sv]] = True
        pos[res_left[sv]] = pos[sv] + 1
        pos[res_right[sv]] = pos[sv] + 1 + size[res_left[sv]]
    return pos, held


class Forest:
    """All trees' nodes back to back (global child numbers), for checks on every tree at once.

    A tree is *plain* when no node has two parents and it is at most
    :attr:`MAX_LEVELS` deep; ``levels`` lists the plain trees' nodes level by level.
    """

    MAX_LEVELS = 64

    def __init__(self, ens: Ensemble) -> None:
        sizes = ens.node_counts()
        self.starts = np.cumsum(sizes) - sizes
        base = np.repeat(self.starts, sizes)
        self.tree_of = np.repeat(np.arange(len(ens.trees)), sizes)

        self._positions: np.ndarray | None = None
        self._sizes: np.ndarray | None = None
        column = ens.column
        self.op, self.feature = column("op").astype(np.int64), column("feature").astype(np.int64)
        self.dl, self.leaf, self.cat = column("default_left"), column("leaf"), column("cat")
        self.inner = self.op != Op.LEAF
        self.left = np.where(self.inner, column("left") + base, -1)
        self.right = np.where(self.inner, column("right") + base, -1)
        threshold = column("threshold")
        self.bits = threshold.view(f"u{threshold.dtype.itemsize}").astype(np.uint64)
        children = np.concatenate([self.left[self.inner], self.right[self.inner]])
        self.plain = ~self.per_tree(np.bincount(children, minlength=self.op.size) > 1)
        self.levels: list[np.ndarray] = []
        frontier = self.starts[self.plain]  # a level walk would repeat shared nodes
        while frontier.size:
            if len(self.levels) == self.MAX_LEVELS:
                self.plain[np.unique(np.searchsorted(self.starts, frontier, side="right") - 1)] = False
                break
            self.levels.append(frontier)
            split = frontier[self.inner[frontier]]
            frontier = np.concatenate([self.left[split], self.right[split]])
        seen = np.zeros(self.op.size, dtype=bool)
        for level in self.levels:
            seen[level] = True
        self.plain &= np.logical_and.reduceat(seen, self.starts)  # unreachable nodes: not plain

    def subtree_sizes(self) -> np.ndarray:
        """Nodes in each plain tree node's subtree (1 elsewhere), from the deepest level up (read-only)."""
        if self._sizes is not None:
            return self._sizes
        size = np.ones(self.op.size, dtype=np.int64)
        for v in reversed(self.levels):
            sv = v[self.inner[v]]
            size[sv] = 1 + size[self.left[sv]] + size[self.right[sv]]
        size.flags.writeable = False
        self._sizes = size
        return size

    def positions(self) -> np.ndarray:
        """Each plain tree node's preorder position within its tree (0 elsewhere; read-only)."""
        if self._positions is not None:
            return self._positions
        n = self.op.size
        size = self.subtree_sizes()
        pos = np.zeros(n, dtype=np.int64)
        for v in self.levels:
            sv = v[self.inner[v]]
            pos[self.left[sv]] = pos[sv] + 1
            pos[self.right[sv]] = pos[sv] + 1 + size[self.left[sv]]
        pos.flags.writeable = False
        self._positions = pos
        return pos

    def per_tree(self, mask: np.ndarray) -> np.ndarray:
        """Per tree, does ``mask`` hold at some node?"""
        return np.logical_or.reduceat(mask, self.starts)

    def nodes_of(self, trees: np.ndarray) -> np.ndarray:
        """The nodes of ``trees`` (sorted tree numbers), back to back."""
        return tree_nodes(self.starts, np.diff(np.append(self.starts, self.op.size)), trees)


def tree_nodes(starts: np.ndarray, sizes: np.ndarray, trees: np.ndarray) -> np.ndarray:
    """The nodes of ``trees`` (sorted), back to back, for trees of ``sizes`` nodes from ``starts``."""
    size = sizes[trees]
    return np.arange(int(size.sum())) + np.repeat(starts[trees] - (np.cumsum(size) - size), size)


def rebuild_some(ens: Ensemble, keep: np.ndarray, rebuild: Callable[[Ensemble, np.ndarray], Ensemble]) -> Ensemble:
    """``ens`` with the trees ``keep`` marks as they are and the others replaced by
    ``rebuild(part, trees)``'s trees, ``part`` being ``ens`` with just those ``trees``."""
    if keep.all():
        return ens
    rest = np.flatnonzero(~keep)
    if not keep.any():
        return rebuild(ens, rest)
    part = ens.replace(trees=tuple(ens.trees[i] for i in rest.tolist()), tree_output=ens.tree_output[rest])
    trees = list(ens.trees)
    for i, tree in zip(rest.tolist(), rebuild(part, rest).trees):
        trees[i] = tree
    return ens.replace(trees=tuple(trees))


#: the mark :func:`mark_settled` sets in a tree's ``__dict__`` (a fact about its columns, which never change).
_SETTLED = "_settled"


def mark_settled(tree: Tree) -> Tree:
    """Record that ``tree`` is settled (see :func:`settled`), as its builder knows."""
    tree.__dict__[_SETTLED] = True
    return tree.mark_preorder()


def settled(fo: Forest, ens: Ensemble) -> np.ndarray:
    """Per tree of ``ens``: plain, numbered in preorder and normalised (leaves without feature,
    threshold bits or default), so a rebuild that keeps every node returns it unchanged.

    Found trees are marked, so when every tree is (fold keeps or builds only such trees,
    and merge runs next) the check costs one look per tree.
    """
    known = np.array([_SETTLED in t.__dict__ for t in ens.trees], dtype=bool)
    if known.all():
        return known
    local = np.arange(fo.op.size) - np.repeat(fo.starts, ens.node_counts())
    ordered = fo.plain & ~fo.per_tree(fo.positions() != local)
    for i in np.flatnonzero(ordered).tolist():
        ens.trees[i].mark_preorder()
    leaf = ~fo.inner
    loose = leaf & ((fo.feature != -1) | (fo.bits != 0) | fo.dl)
    found = ordered & ~fo.per_tree(loose)
    for i in np.flatnonzero(found).tolist():
        mark_settled(ens.trees[i])
    return found


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
                own = _mix(own, k)
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


def _mix(h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One splitmix64-style round of ``x`` into ``h`` (uint64, wrapping)."""
    x = np.asarray(x)
    z = (h ^ (x if x.dtype == np.uint64 else x.astype(np.int64).view(np.uint64))) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


#: a DAG is expanded into a tree for all-at-once rewrites while that takes at most this many copies per node.
MAX_COPIES = 8


def expand_dags(ens: Ensemble) -> tuple[Ensemble, np.ndarray]:
    """``ens`` with each tree that shares nodes replaced by its expansion (every shared
    subtree copied once per path to it, copies in level order), where the expansion is
    at most :data:`MAX_COPIES` times the tree and :attr:`Forest.MAX_LEVELS` deep; and per
    node of the result's trees back to back, the node it copies (ensemble-wide number;
    -1 in trees kept).

    Rewrites of plain trees then cover DAGs: a preorder of the expansion lists each
    node's first visit, and the fold walk, without memoised contexts, walks a DAG
    exactly as it walks the expansion.
    """
    sizes = ens.node_counts()
    fo = _Links(ens, sizes)
    children = np.concatenate([fo.left[fo.inner], fo.right[fo.inner]])
    dag = np.logical_or.reduceat(np.bincount(children, minlength=fo.inner.size) > 1, fo.starts)
    if not dag.any():
        return ens, np.full(fo.inner.size, -1, dtype=np.int64)
    n_trees = ens.n_trees
    ok = dag.copy()
    count = np.ones(n_trees, dtype=np.int64)
    orig = [fo.starts[dag]]  # per level: the nodes copied, their tree and local copy numbers
    tree = [np.flatnonzero(dag)]
    local = [np.zeros(int(dag.sum()), dtype=np.int64)]
    links: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per level: (parent copy, child copy, side)
    for _ in range(Forest.MAX_LEVELS):
        split = fo.inner[orig[-1]] & ok[tree[-1]]
        if not split.any():
            break
        # Copies stay grouped by tree, in tree order, level after level: number them by rank in the group.
        o, t, c = orig[-1][split], tree[-1][split], local[-1][split]
        kids = np.stack([fo.left[o], fo.right[o]], axis=1).ravel()
        kid_tree = np.repeat(t, 2)
        per_tree = np.bincount(kid_tree, minlength=n_trees)
        first = np.cumsum(per_tree) - per_tree
        numbers = count[kid_tree] + np.arange(kids.size) - first[kid_tree]
        count += per_tree
        ok &= count <= MAX_COPIES * sizes
        links.append((np.repeat(c, 2), numbers, np.tile([0, 1], o.size)))
        orig.append(kids)
        tree.append(kid_tree)
        local.append(numbers)
    else:
        ok &= ~np.isin(np.arange(n_trees), tree[-1][fo.inner[orig[-1]]])  # deeper than the level limit
    if not ok.any():
        return ens, np.full(fo.inner.size, -1, dtype=np.int64)
    o, t, c = (np.concatenate(x) for x in (orig, tree, local))
    keep = ok[t]
    o, t, c = o[keep], t[keep], c[keep]
    base = np.cumsum(count * ok) - count * ok
    at = base[t] + c  # each copy's place among all expanded trees' nodes
    total = int((count * ok).sum())
    src = np.empty(total, dtype=np.int64)
    src[at] = o
    cols = {name: ens.column(name)[src] for name in Tree.COLUMNS}
    for (parent, child, side), kt in zip(links, tree[1:]):
        use = ok[kt]
        where, child, side = base[kt[use]] + parent[use], child[use].astype(np.int32), side[use]
        cols["left"][where[side == 0]] = child[side == 0]
        cols["right"][where[side == 1]] = child[side == 1]
    ends = np.cumsum(count * ok)
    trees = list(ens.trees)
    for i in np.flatnonzero(ok).tolist():
        trees[i] = Tree(**{name: col[ends[i] - count[i]:ends[i]] for name, col in cols.items()})
    expanded = ens.replace(trees=tuple(trees))
    counts = expanded.node_counts()
    copies = np.full(int(counts.sum()), -1, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    copies[starts[t] + c] = o
    return expanded, copies


def preorder_numbers(ens: Ensemble) -> tuple[np.ndarray, np.ndarray]:
    """Per node (trees back to back) its number in its tree's :func:`preorder`, and per
    tree whether that was found here (not for trees too deep, or DAGs whose expansion
    is too big; their numbers are 0).

    A DAG's preorder lists each node at its first visit, and the walk visits a node's
    whole subtree on its first visit, so the order is that of each node's first copy in
    the preorder of the expansion (:func:`expand_dags`).
    """
    expanded, copies = expand_dags(ens)
    fo = Forest(expanded)
    pos = fo.positions()
    sizes = ens.node_counts()
    starts = np.cumsum(sizes) - sizes
    number = np.zeros(int(sizes.sum()), dtype=np.int64)
    copied = copies >= 0
    dag = fo.per_tree(copied)
    kept = np.flatnonzero(fo.plain & ~dag)
    nodes = fo.nodes_of(kept)
    number[nodes - np.repeat(fo.starts[kept] - starts[kept], sizes[kept])] = pos[nodes]
    trees = np.flatnonzero(fo.plain & dag)
    if trees.size:
        c = np.flatnonzero(copied & fo.plain[fo.tree_of])
        first = np.full(number.size, fo.op.size, dtype=np.int64)
        np.minimum.at(first, copies[c], fo.starts[fo.tree_of[c]] + pos[c])
        own = tree_nodes(starts, sizes, trees)
        ordered = in_rank_order(first[own], own, fo.op.size)
        number[ordered] = np.arange(ordered.size) - np.repeat(np.cumsum(sizes[trees]) - sizes[trees], sizes[trees])
    return number, fo.plain


class _Links:
    """All trees' child links with ensemble-wide node numbers (what expansion needs of a :class:`Forest`)."""

    def __init__(self, ens: Ensemble, sizes: np.ndarray) -> None:
        self.starts = np.cumsum(sizes) - sizes
        base = np.repeat(self.starts, sizes)
        self.inner = ens.column("op") != Op.LEAF
        self.left = np.where(self.inner, ens.column("left") + base, -1)
        self.right = np.where(self.inner, ens.column("right") + base, -1)


@dataclass(frozen=True, eq=False)
class NodeTable:
    """Rewritten trees as whole-ensemble node columns: tree ``i`` is the next ``sizes[i]``
    nodes where ``ok[i]``; the other trees are left to a per-tree path. Every rewrite
    numbers its trees in preorder (each node at its first visit)."""

    columns: dict[str, np.ndarray]
    sizes: np.ndarray
    ok: np.ndarray

    @staticmethod
    def empty(n_trees: int) -> "NodeTable":
        return NodeTable({}, np.zeros(n_trees, dtype=np.int64), np.zeros(n_trees, dtype=bool))

    def trees(self) -> list[Tree | None]:
        return [t.mark_preorder() if ok else None for t, ok in zip(Tree.cut(self.columns, self.sizes.tolist()), self.ok.tolist())]

    def apply(self, ens: Ensemble, per_tree: Callable[[Tree], Tree]) -> Ensemble:
        """``ens`` with these trees, and ``per_tree`` of the original for the others; when
        every tree is here the columns become the result's :meth:`Ensemble.column` cache."""
        if self.ok.all():
            out = ens.with_node_columns(self.columns, self.sizes.tolist())
            for tree in out.trees:
                tree.mark_preorder()
            return out
        return ens.replace(trees=tuple(
            new if new is not None else per_tree(old) for old, new in zip(ens.trees, self.trees())
        ))


def map_nodes(ens: Ensemble, rewrite: Callable[[Tree], Tree]) -> Ensemble:
    """``rewrite`` applied to every tree's nodes at once, for rewrites that treat each node
    on its own (never through its child links): it gets all node columns back to back as
    one table, whose columns are cut back into trees (one numpy step per column instead
    of one per tree and column)."""
    out = rewrite(Tree(**{c: ens.column(c) for c in Tree.COLUMNS}))
    result = ens.with_node_columns({c: getattr(out, c) for c in Tree.COLUMNS}, ens.node_counts().tolist())
    for old, new in zip(ens.trees, result.trees):  # the same numbering
        if old.in_preorder:
            new.mark_preorder()
    return result


def used_leaves(ens: Ensemble) -> np.ndarray:
    """The leaf-table row of every leaf node, in tree and node order."""
    op, leaf = ens.column("op"), ens.column("leaf")
    return leaf[op == Op.LEAF]


def used_leaf_rows(ens: Ensemble) -> np.ndarray:
    """Sorted leaf-table rows referenced by some leaf node."""
    used = np.zeros(ens.leaves.shape[0], dtype=bool)
    used[used_leaves(ens)] = True
    return np.flatnonzero(used)


def remap_leaves(ens: Ensemble, new_row: np.ndarray, table: np.ndarray) -> Ensemble:
    """Point every leaf node at ``new_row[old]`` of a new leaf ``table``."""

    def rewrite(t: Tree) -> Tree:
        is_leaf = t.op == Op.LEAF
        leaf = np.where(is_leaf, new_row[np.maximum(t.leaf, 0)], -1).astype(np.int32)
        return t.replace(leaf=leaf)

    return map_nodes(ens, rewrite).replace(leaves=table)
