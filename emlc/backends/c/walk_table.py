"""Table layout: every tree as a run of fixed-size records in flash, walked by one loop.

Records (struct of arrays, trees back to back, each tree in preorder)::

    P_kind[r]   slot | flags. Slot s < S tests feature P_slotf[s] (the features the model
                uses, numbered densely; no table when that is every feature); slot S is a
                leaf record, slot S + 1 a jump record. Flags: NaN goes left, categorical
                node, right child is a leaf (only the flags the model needs).
    P_thr[r]    threshold: index into the slot's sorted keys P_keys[P_kbase[s] ...] (a
                byte for up to 256 distinct thresholds per feature; keys stored without
                the trailing zero bits they all share and, at -Os, without the top byte
                each slot's sorted keys share in runs, P_split_key), or the key itself when
                that is smaller; categorical nodes: the bitset row
    P_right[r]  how many records ahead the right child is, or (flag) its leaf row
    P_root[t]   first record of tree t

A decision node's left child is always the next record: a leaf there is a leaf record,
a node already placed (a shared subtree of a DAG) a jump record; their payload (leaf
row, record index) is ``thr | right << bits(thr)``. So the digits forest's decision
nodes take 3 bytes each (feature slot and flags, one-byte threshold index, one-byte
offset); field widths grow only as far as a model needs (more features, offsets, rows).

Nodes compare the feature's order key (:mod:`emlc.backends.c.numeric`) with a key
threshold; ranked features are unranked at compile time (``rank <= k`` is
``x <= edges[k]``), so a prediction computes a key only for the nodes it visits and
never searches rank edges. The loop is ``runtime/c/walk.c``. At the speed levels, float32
and 8/16-bit integer features on cores with half-word tests (AVR) walk :mod:`walk_halves`'
records instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...cost import split_key_code, written_out_limit
from ...ir.ensemble import Op, Tree
from . import leaf_records, walk_halves, walk_head
from .common import int_literal, int_range, size_of, smallest_int, word_type
from .features import rank_spans
from .model import Model, Test, Walk, runtime_source
from .plan import Encoding
from .inline_text import unranked

_UNSIGNED = ("uint8_t", "uint16_t", "uint32_t")
_FLAG_NAMES = {"nan": "NaN goes left", "cat": "categorical", "rl": "right child is a leaf"}


@dataclass(frozen=True)
class Records:
    """One encoding of all trees: record columns, types and the side tables they need."""

    kind: np.ndarray
    thr: np.ndarray
    right: np.ndarray
    roots: np.ndarray
    kind_t: str
    thr_t: str
    right_t: str
    idx_t: str
    flags: dict[str, int]
    n_slots: int
    slot_features: list[int]
    has_jump: bool
    keys: np.ndarray | None  # palette of key thresholds, slot runs back to back
    kbase: np.ndarray | None  # first palette entry of each slot
    #: decision records only (:func:`_encode_counted`): ``right`` counts the left subtree's
    #: decision records, leaves are numbered left to right per tree
    counted: bool = False
    lmap: np.ndarray | None = None  # leaf number -> leaf row, when they differ
    lmap_t: str = "uint8_t"
    #: lmap as a low byte per leaf and its high 4 bits, two leaves a byte (rows below
    #: 4096: :meth:`with_split_map`)
    lmap_split: bool = False
    #: first leaf number of each tree, when not root[t] + t: its first row (rows in order
    #: in the tree), or lflag | its first lmap entry
    lbase: np.ndarray | None = None
    lflag: int = 0
    ltop: int = 0  # largest leaf number
    #: counted records packed in one word each (:func:`_pack`): the slot and key index,
    #: or (``global_index``) the index into all keys, whose slot ``kbase`` gives; then
    #: the flags, then c from bit ``cbits``
    word: np.ndarray | None = None
    word_t: str = ""
    cbits: int = 0  # where c starts in the word
    ibits: int = 0  # bits of the index fields below the flags
    global_index: bool = False
    #: keys stored without their top byte, which each slot's sorted keys share in runs
    #: (:meth:`top_runs`): float32 thresholds of one feature take a few top bytes
    split_top: bool = False

    @property
    def coarse_step(self) -> int:
        """Global key index: the slot search starts from the slot of key index i >> step << step
        (about one slot per step)."""
        return max(int(np.log2(max(self.keys.size / self.n_slots, 1))), 0)

    @property
    def n_records(self) -> int:
        return int(self.kind.size)

    @property
    def record_bytes(self) -> int:
        if self.word is not None:
            return size_of(self.word_t)
        return size_of(self.kind_t) + size_of(self.thr_t) + size_of(self.right_t)

    @property
    def lidx_t(self) -> str:
        return smallest_int(0, self.ltop, signed=False)

    @property
    def bytes(self) -> int:
        total = self.kind.size * self.record_bytes + self.roots.size * size_of(self.idx_t)
        if self.keys is not None:
            total += self.keys.size * self.key_bytes + self.kbase.size * size_of(self.kbase_t)
        if self.split_top:
            starts = self.top_runs()[0]
            total += 2 * starts.size + (self.n_slots + 1) * size_of(self.tbase_t)
        if self.slot_features != list(range(self.n_slots)):
            total += self.n_slots * size_of(smallest_int(0, max(self.slot_features), signed=False))
        if self.lmap is not None:
            total += self.lmap.size + (self.lmap.size + 1) // 2 if self.lmap_split else self.lmap.size * size_of(self.lmap_t)
        if self.lbase is not None:
            total += self.lbase.size * size_of(self.lidx_t)
        if self.global_index:  # kbase's sentinel and the coarse slot table
            s_size = size_of(smallest_int(0, self.n_slots, signed=False))
            total += 2 + s_size * -(-self.keys.size // (1 << self.coarse_step))
        return total

    @property
    def key_shift(self) -> int:
        """Whole bytes of trailing zero bits every palette key shares (float thresholds such
        as 12.5 have two): keys are stored without them and shifted back, which costs
        byte moves, not a multiplication, on 8-bit targets."""
        if self.keys is None or not self.keys.any():
            return 0
        nonzero = np.abs(self.keys[self.keys != 0])
        return 8 * (min(int((int(k) & -int(k)).bit_length()) - 1 for k in nonzero) // 8)

    @property
    def stored_keys(self) -> np.ndarray:
        assert self.keys is not None
        return self.keys >> self.key_shift

    @property
    def key_t(self) -> str:
        if self.keys is None or not self.keys.size:
            return "int8_t"
        return smallest_int(int(self.stored_keys.min()), int(self.stored_keys.max()))

    @property
    def key_bytes(self) -> int:
        """Bytes each palette key takes in the key columns."""
        return size_of(self.key_t) - int(self.split_top)

    def top_runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each slot's runs of keys sharing their stored top byte, slots in order: (the
        first key of each run, counted within its slot; the top byte; the slot)."""
        keys = self.stored_keys
        top = keys >> (8 * size_of(self.key_t) - 8)
        slot = np.repeat(np.arange(self.n_slots), np.diff(np.append(self.kbase, keys.size)))
        first = np.flatnonzero(np.r_[True, (top[1:] != top[:-1]) | (slot[1:] != slot[:-1])]) if keys.size else keys
        return first - self.kbase[slot[first]], top[first], slot[first]

    @property
    def tbase_t(self) -> str:
        return smallest_int(0, self.top_runs()[0].size, signed=False)

    def with_split_top(self, code: int, forced: bool | None = None) -> Records | None:
        """This encoding with its keys' top byte in runs (:attr:`split_top`), when that
        is smaller by more than the lookup's ``code`` or ``forced`` on (off: never; see
        :attr:`.TableForcing.split_top`), and every slot has at most 256 keys (a run's
        start is a byte)."""
        if forced is False or self.keys is None or not self.keys.size or size_of(self.key_t) < 2:
            return None
        if int(np.diff(np.append(self.kbase, self.keys.size)).max()) > 256:
            return None
        split = replace(self, split_top=True)
        return split if forced or split.bytes + code < self.bytes else None

    def with_split_map(self) -> Records:
        """This encoding with its 16-bit leaf map split into low bytes and high nibbles
        (:attr:`lmap_split`) when every row is below 4096: a quarter of the map saved for a
        nibble picked per tree walked (digits 10x6 at -Os: 260 bytes, 150 AVR cycles)."""
        if self.lmap is None or size_of(self.lmap_t) != 2 or int(self.lmap.max()) >= 4096:
            return self
        return replace(self, lmap_split=True)

    @property
    def kbase_t(self) -> str:
        return smallest_int(0, int(self.kbase.max()), signed=False) if self.kbase is not None and self.kbase.size else "uint8_t"


def _tests(model: Model, tree: Tree) -> tuple[dict[int, Test], np.ndarray]:
    """Each unfolded decision node's test on the feature's own key, and where folded nodes lead."""
    tests: dict[int, Test] = {}
    goto = np.arange(tree.n_nodes)
    every = model.tests(tree)
    for i in np.flatnonzero(tree.op != Op.LEAF):
        test = every[i]
        assert test is not None
        if not test.cat:
            test = unranked(model, test)
        fixed = model.folded(test)
        if fixed is None:
            tests[int(i)] = test
        else:
            goto[i] = tree.left[i] if fixed else tree.right[i]
    for _ in range(tree.n_nodes):  # follow chains of folded nodes
        nxt = goto[goto]
        if np.array_equal(nxt, goto):
            break
        goto = nxt
    return tests, goto


def _thresholds(model: Model, trees_tests: list[dict[int, Test]], slot_of: dict[int, int], palette: bool):
    """(threshold value per (tree, node), palette keys, palette base per slot)."""
    values: dict[tuple[int, int], int] = {}
    if not palette:
        for t, tests in enumerate(trees_tests):
            for i, test in tests.items():
                values[t, i] = test.k
        return values, None, None
    runs: list[list[int]] = [[] for _ in slot_of]
    for tests in trees_tests:
        for test in tests.values():
            if not test.cat:
                runs[slot_of[test.feature]].append(test.k)
    runs = [sorted(set(r)) for r in runs]
    where = [{k: j for j, k in enumerate(r)} for r in runs]
    for t, tests in enumerate(trees_tests):
        for i, test in tests.items():
            values[t, i] = test.k if test.cat else where[slot_of[test.feature]][test.k]
    kbase = np.concatenate([[0], np.cumsum([len(r) for r in runs])[:-1]]).astype(np.int64)
    keys = np.array([k for r in runs for k in r], dtype=np.int64)
    return values, keys, kbase


def _encode(model: Model, trees, palette: bool, rl: bool, right_t: str) -> Records | None:
    """Place every tree's records in preorder; None if ``right_t`` cannot hold what it must."""
    trees_tests, gotos = zip(*trees) if trees else ((), ())
    used = sorted({test.feature for tests in trees_tests for test in tests.values()})
    slot_of = {f: s for s, f in enumerate(used)}
    n_slots = len(used)
    values, keys, kbase = _thresholds(model, list(trees_tests), slot_of, palette)
    rmax = int_range(right_t)[1]
    flags: dict[str, int] = {}
    sbits = (n_slots + 1).bit_length()
    for name, wanted in (("nan", model.nan), ("cat", model.uses_categories()), ("rl", rl)):
        if wanted:
            flags[name] = 1 << (sbits + len(flags))
    leaf_code, jump_code = n_slots, n_slots + 1
    kind: list[int] = []
    thr: list[int] = []
    right: list[int] = []
    payload: dict[int, int] = {}  # leaf and jump records
    roots: list[int] = []
    leaf_op = int(Op.LEAF)
    for t, (tree, tests, goto) in enumerate(zip(model.ens.trees, trees_tests, gotos)):
        # Python lists: numpy scalar indexing and enum look-ups per record dominate otherwise.
        is_leaf = (tree.op == leaf_op).tolist()
        leaf, go = leaf_records.leaf_refs(model.plan.records, tree), goto.tolist()
        go_left, go_right = goto[tree.left].tolist(), goto[tree.right].tolist()
        placed: dict[int, int] = {}
        roots.append(len(kind))
        stack: list[tuple[int, int]] = [(go[0], -1)]
        while stack:
            node, parent = stack.pop()
            here = len(kind)
            if parent >= 0:
                right[parent] = here - parent
            if is_leaf[node] or node in placed:
                payload[here] = leaf[node] if is_leaf[node] else placed[node]
                kind.append(leaf_code if is_leaf[node] else jump_code)
                thr.append(0)
                right.append(0)
                continue
            placed[node] = here
            test = tests[node]
            code = slot_of[test.feature]
            code |= flags["nan"] if test.nan_left and "nan" in flags else 0
            code |= flags["cat"] if test.cat else 0
            kind.append(code)
            thr.append(values[t, node])
            right.append(0)
            r_node = go_right[node]
            if rl and is_leaf[r_node] and leaf[r_node] <= rmax:
                kind[-1] |= flags["rl"]
                right[-1] = leaf[r_node]
            else:
                stack.append((r_node, here))
            stack.append((go_left[node], -1))
    kind_a = np.array(kind, dtype=np.int64)
    thr_a = np.array(thr, dtype=np.int64)
    right_a = np.array(right, dtype=np.int64)
    decision = (kind_a & ((1 << sbits) - 1)) < leaf_code
    thr_vals = thr_a[decision] if decision.any() else np.zeros(1, dtype=np.int64)
    thr_t = smallest_int(int(min(thr_vals.min(), 0)), int(thr_vals.max()))
    tbits = 8 * size_of(thr_t)
    if right_a.size and int(right_a.max()) > rmax:
        return None
    for r, p in payload.items():
        if p >> tbits > rmax:
            return None
        low = p & ((1 << tbits) - 1)
        thr_a[r] = low - (1 << tbits) if thr_t.startswith("int") and low >> (tbits - 1) else low
        right_a[r] = p >> tbits
    return Records(
        kind=kind_a, thr=thr_a, right=right_a, roots=np.array(roots, dtype=np.int64),
        kind_t=smallest_int(0, int(kind_a.max()) if kind_a.size else 0, signed=False), thr_t=thr_t,
        right_t=right_t, idx_t=smallest_int(0, len(kind), signed=False), flags=flags, n_slots=n_slots,
        slot_features=used, has_jump=bool((kind_a == jump_code).any()), keys=keys, kbase=kbase,
    )


def _encode_counted(model: Model, trees, palette: bool, cnt_t: str) -> Records | None:
    """Decision records only, each tree in preorder: ``right`` holds c, the number of
    decision records in the node's left subtree (its right child is c + 1 records ahead;
    c == 0 means the left child is a leaf) and flag ``rl`` marks a leaf right child.
    Leaves take no record: numbered left to right from ``root[t] + t`` (a tree of n
    decision nodes has n + 1 leaves), going right skips the left subtree's c + 1 of them,
    and ``lmap`` turns a leaf number into its row unless they are equal. Shared subtrees
    are written out again; a tree that is one leaf gets a node every value (NaN too)
    passes to the left. None if ``cnt_t`` cannot hold a count, or no node tests a feature."""
    trees_tests = [dict(tests) for tests, _ in trees]
    used = sorted({test.feature for tests in trees_tests for test in tests.values()})
    if not used:
        return None
    slot_of = {f: s for s, f in enumerate(used)}
    always = Test(used[0], model.base_range[1], False, True)
    leaf_op = int(Op.LEAF)
    for tree, tests, (_, goto) in zip(model.ens.trees, trees_tests, trees):
        if int(tree.op[goto[0]]) == leaf_op:
            tests[-1] = always
    values, keys, kbase = _thresholds(model, trees_tests, slot_of, palette)
    cmax = int_range(cnt_t)[1]
    n_slots = len(used)
    sbits = (n_slots - 1).bit_length() or 1
    flags: dict[str, int] = {}
    for name, wanted in (("nan", model.nan), ("cat", model.uses_categories()), ("rl", True)):
        if wanted:
            flags[name] = 1 << (sbits + len(flags))
    kind: list[int] = []
    thr: list[int] = []
    cnt: list[int] = []
    rows: list[int] = []
    roots: list[int] = []
    # written-out shared subtrees may multiply: give up past the limit (leaf records then)
    limit = written_out_limit(model.ens)
    for t, (tree, tests, (_, goto)) in enumerate(zip(model.ens.trees, trees_tests, trees)):
        if len(kind) > limit:
            return None
        is_leaf = (tree.op == leaf_op).tolist()
        leaf, go = leaf_records.leaf_refs(model.plan.records, tree), goto.tolist()
        go_left, go_right = goto[tree.left].tolist(), goto[tree.right].tolist()
        roots.append(len(kind))
        if is_leaf[go[0]]:
            kind.append(slot_of[always.feature] | flags.get("nan", 0) | flags["rl"])
            thr.append(values[t, -1])
            cnt.append(0)
            rows += [leaf[go[0]], -1]  # the right leaf is never reached
            continue
        # ("node", node) places a subtree; ("right", node, record) closes its left one
        stack: list[tuple] = [("node", go[0])]
        while stack:
            item = stack.pop()
            node = item[1]
            if item[0] == "right":
                here = item[2]
                cnt[here] = len(kind) - here - 1
                r_node = go_right[node]
                if is_leaf[r_node]:
                    kind[here] |= flags["rl"]
                    rows.append(leaf[r_node])
                else:
                    stack.append(("node", r_node))
                continue
            if is_leaf[node]:
                rows.append(leaf[node])
                continue
            if len(kind) > limit:
                return None
            test = tests[node]
            code = slot_of[test.feature]
            code |= flags["nan"] if test.nan_left and "nan" in flags else 0
            code |= flags["cat"] if test.cat else 0
            stack.append(("right", node, len(kind)))
            kind.append(code)
            thr.append(values[t, node])
            cnt.append(0)
            stack.append(("node", go_left[node]))
    if max(cnt) > cmax:
        return None
    kind_a = np.array(kind, dtype=np.int64)
    thr_a = np.array(thr, dtype=np.int64)
    rows_a = np.array(rows, dtype=np.int64)
    assert rows_a.size == len(kind) + len(roots)
    care = rows_a >= 0
    lmap = lbase = None
    lflag = 0
    top = rows_a.size
    if not np.array_equal(rows_a[care], np.flatnonzero(care)):
        # each tree's numbers start at its first row when its rows are in order; the other
        # trees' rows go to lmap, their numbers flagged with bit lflag (kept as n grows)
        starts = np.array(roots, dtype=np.int64) + np.arange(len(roots))
        ends = np.append(starts[1:], rows_a.size)
        first, maps = [], []
        for a, b in zip(starts.tolist(), ends.tolist()):
            part, ok = rows_a[a:b], care[a:b]
            if part[0] >= 0 and np.array_equal(part[ok], (part[0] + np.arange(b - a))[ok]):
                first.append(int(part[0]))
            else:
                first.append(-1 - sum(m.size for m in maps))
                maps.append(np.where(ok, part, 0))
        lmap = np.concatenate(maps) if maps else None
        if len(maps) < len(first):  # some trees number their rows themselves
            widest = int((ends - starts).max())
            lflag = 1 << max(int(rows_a.max()) + widest, lmap.size if lmap is not None else 0).bit_length()
            lbase = np.array([f if f >= 0 else lflag | (-1 - f) for f in first], dtype=np.int64)
            top = 2 * lflag - 1
    return Records(
        kind=kind_a, thr=thr_a, right=np.array(cnt, dtype=np.int64), roots=np.array(roots, dtype=np.int64),
        kind_t=smallest_int(0, int(kind_a.max()), signed=False),
        thr_t=smallest_int(int(min(thr_a.min(), 0)), int(thr_a.max())), right_t=cnt_t,
        idx_t=smallest_int(0, len(kind), signed=False), flags=flags, n_slots=n_slots, slot_features=used,
        has_jump=False, keys=keys, kbase=kbase, counted=True, lmap=lmap, lbase=lbase, lflag=lflag, ltop=top,
        lmap_t=smallest_int(0, int(rows_a.max()), signed=False),
    )


def _pack(rec: Records, global_index: bool) -> Records | None:
    """``rec`` (counted, key indexes) with each record's fields in one word, or None
    when they take more than 32 bits (or a global index meets a categorical node).
    Low to high: the key index (global), or the slot and its key index (or bitset row);
    the flags; c on top, so tests need no shift: c == 0 is ``w < 2^shift``, a flag a
    mask, a global index a mask (8-bit cores shift one bit at a time)."""
    if rec.keys is None or (global_index and "cat" in rec.flags):
        return None
    sbits = (rec.n_slots - 1).bit_length() or 1
    slot = rec.kind & ((1 << sbits) - 1)
    if global_index:
        word = rec.kbase[slot] + rec.thr
        ibits = max(int(rec.keys.size - 1).bit_length(), 1)
    else:
        word = slot | rec.thr << sbits
        ibits = sbits + max(int(rec.thr.max()).bit_length(), 1)
    at = ibits
    for name in rec.flags:  # nan, cat, rl: flag j is bit ibits + j
        word = word | ((rec.kind & rec.flags[name]) != 0).astype(np.int64) << at
        at += 1
    word = word | rec.right << at
    if int(word.max()) >> 32:
        return None
    word_t = smallest_int(0, int(word.max()), signed=False)
    return replace(rec, word=word, word_t=word_t, cbits=at, ibits=ibits, global_index=global_index)


def encode(model: Model) -> Records:
    """The smallest encoding over threshold palette on/off, leaf records (right-leaf flag
    on/off) or decision records only (:func:`_encode_counted`). Packed records
    (:func:`_pack`) and keys without their top byte (:meth:`Records.with_split_top`) only
    where size comes first (-Os: ``plan.pack_tables``): unpacking them costs shifts and,
    with a global key index, a search for the slot (on AVR about twice the cycles of the
    digits forest's walk), and the top byte a scan of the slot's runs. ``plan.forcing``
    holds these choices fixed (tests check each)."""
    packed, forcing = model.plan.pack_tables, model.plan.forcing
    trees = [_tests(model, tree) for tree in model.ens.trees]
    cands: list[Records | None] = []
    for palette in (False, True):
        if forcing.allows(Encoding.RECORDS) or not trees or not any(tests for tests, _ in trees):
            for rl in (False, True):
                cands.append(next((rec for right_t in _UNSIGNED
                                   if (rec := _encode(model, trees, palette, rl, right_t)) is not None), None))
        counted = next((rec for cnt_t in _UNSIGNED
                        if (rec := _encode_counted(model, trees, palette, cnt_t)) is not None), None)
        if counted is not None:
            counted = counted.with_split_map() if packed else counted
            cands += [counted if forcing.allows(Encoding.COUNTED) else None,
                      _pack(counted, False) if forcing.allows(Encoding.PACKED) and packed else None,
                      _pack(counted, True) if forcing.allows(Encoding.PACKED_GLOBAL) and packed else None]
    # keys without their top byte: a scan per node test, so only where size comes first
    code = split_key_code(model.target)
    split = [rec.with_split_top(code, forcing.split_top) for rec in cands if rec is not None and packed]
    cands = [s for s in split if s is not None] if forcing.split_top and any(split) else cands + split
    best: Records | None = None
    for rec in cands:
        if rec is not None and (best is None or rec.bytes < best.bytes):
            best = rec
    if best is None:  # the forced encodings cannot hold this model
        best = next(rec for right_t in _UNSIGNED if (rec := _encode(model, trees, True, True, right_t)) is not None)
    assert best is not None
    return best


def walk_body(model: Model) -> Walk:
    ens, p, tables = model.ens, model.p, model.tables
    tt_t = smallest_int(0, ens.n_trees, signed=False)
    if walk_halves.applies(model):
        halves = walk_halves.encode(model, [_tests(model, tree) for tree in ens.trees])
        inline = model.plan.head
        head = (None if inline is None else
                lambda nodes, roots: walk_head.head_functions(model, halves, nodes, roots, inline))
        return walk_halves.walk_body(model, halves, lambda walk, cursor=None: _tree_loop(model, tt_t, walk, cursor),
                                     head)
    rec = encode(model)
    leaf_code = rec.n_slots
    if not rec.n_slots:  # every tree is a single leaf: its row is known now
        rows = rec.thr[rec.roots] & ((1 << (8 * size_of(rec.thr_t))) - 1) | rec.right[rec.roots] << (8 * size_of(rec.thr_t))
        tr = tables.add("root", model.row_t, rows, note="leaf row of each tree")
        walk = tables.read(model.row_t, tr, "t")
        return Walk([], _tree_loop(model, tt_t, walk), rec)
    troot = tables.add("root", rec.idx_t, rec.roots, note="first record of each tree")
    if rec.word is not None:
        decls, body = _packed_walk(model, rec, troot, tt_t)
        return Walk(decls, body, rec)
    tk = tables.add("kind", rec.kind_t, rec.kind, note="slot | flags per record")
    tt = tables.add("thr", rec.thr_t, rec.thr, note="threshold (key index, key or bitset row) | payload low bits")
    tr = tables.add("right", rec.right_t, rec.right,
                    note="decision records in the left subtree" if rec.counted else
                    "records to the right child, leaf row | payload high bits")
    read_t = tables.read(rec.thr_t, tt, "r")
    read_r = tables.read(rec.right_t, tr, "r")
    feature = _feature(model, rec)
    value = _value(model)
    if rec.keys is not None:
        pal = _palette(model, rec)
        decls = pal.decls
        idx = f"({word_type(model.target, pal.index_t)})({tables.read(pal.kbase_t, pal.kbase, 's')} + {read_t})"
        threshold = _threshold(model, rec, pal, idx, "s")
    else:
        decls = []
        threshold = f"({model.key_t}){read_t}"
    test = _test(model, rec.flags, read_t, threshold)
    if rec.counted:
        sbits = (rec.n_slots - 1).bit_length() or 1
        fields = (f"{rec.kind_t} k = {tables.read(rec.kind_t, tk, 'r')};\n"
                  f"        {rec.kind_t} s = ({rec.kind_t})(k & {(1 << sbits) - 1}u);\n"
                  f"        {_f_t(model)} f = ({_f_t(model)}){feature};\n"
                  f"        {rec.right_t} c = {read_r};")
        decl = _counted_walk(model, rec, troot, fields, value, test, tt_t, f"{rec.flags['rl']}u")
        return Walk(decls + [decl], _tree_loop(model, tt_t, f"{p}_walk(t, features)"), rec)
    key_t = model.key_t
    tbits = 8 * size_of(rec.thr_t)
    pbits = tbits + 8 * size_of(rec.right_t)
    pay_t = "uint16_t" if pbits <= 16 else "uint32_t" if pbits <= 32 else "uint64_t"
    ut = "uint" + rec.thr_t.removeprefix("u").removeprefix("int")
    payload = f"(({pay_t})({ut}){read_t} | (({pay_t}){read_r} << {tbits}))"
    idx_t = word_type(model.target, rec.idx_t)
    if rec.has_jump:
        special = (f"if (s == {leaf_code}u) {{\n                return ({model.row_t}){payload};\n            }}\n"
                   f"            r = ({idx_t}){payload};\n            continue;")
    else:
        special = f"return ({model.row_t}){payload};"
    if "rl" in rec.flags:
        go_right = (f"{word_type(model.target, rec.right_t)} step = {read_r};\n            if (k & {rec.flags['rl']}u) {{\n"
                    f"                return ({model.row_t})step;\n            }}\n            r = ({idx_t})(r + step);")
    else:
        go_right = f"r = ({idx_t})(r + {read_r});"
    sbits = (rec.n_slots + 1).bit_length()
    decl = runtime_source(
        "walk.c", p=p, qual=_walk_qualifier(model), row_t=model.row_t, idx_t=idx_t, in_t=model.in_t,
        kind_t=word_type(model.target, rec.kind_t), key_t=key_t, left_t=word_type(model.target, "uint8_t"),
        read_kind=tables.read(rec.kind_t, tk, "r"), slot_mask=f"{(1 << sbits) - 1}u", leaf=f"{leaf_code}u",
        feature=feature, value=value, test=test, special=special, go_right=go_right,
        f_t=word_type(model.target, smallest_int(0, ens.n_features, signed=False)),
    )
    walk = f"{p}_walk({tables.read(rec.idx_t, troot, 't')}, features)"
    return Walk(decls + [decl], _tree_loop(model, tt_t, walk), rec)


def _f_t(model: Model) -> str:
    return smallest_int(0, model.ens.n_features, signed=False)


def _feature(model: Model, rec: Records) -> str:
    """C expression of the feature slot s tests."""
    if rec.slot_features == list(range(rec.n_slots)):
        return "s"
    st = smallest_int(0, max(rec.slot_features), signed=False)
    return model.tables.read(st, model.tables.add("slotf", st, rec.slot_features, note="feature of each slot"), "s")


def _value(model: Model) -> str:
    """C expression of feature f's key."""
    if model.precision is not None:
        return f"{model.p}_key(features[f])"
    return f"({model.key_t})features[f]"


@dataclass(frozen=True)
class _Palette:
    """The emitted key tables of an encoding: the key columns (low bytes first), the slot
    bases and their type, the type of a key index, and the split keys' lookup."""

    columns: list[tuple[str, str]]
    kbase: str
    kbase_t: str
    index_t: str
    decls: list[str]


def _palette(model: Model, rec: Records, sentinel: bool = False) -> _Palette:
    """The key and slot-base tables (``sentinel``: kbase ends with the key count)."""
    tables, shift = model.tables, rec.key_shift
    note = "sorted key thresholds per slot" + (f", divided by 2^{shift}" if shift else "")
    keys = rec.stored_keys if rec.keys.size else np.zeros(1, dtype=np.int64)
    if rec.split_top:
        low, at, columns = keys & ((1 << 8 * rec.key_bytes) - 1), 0, []
        for width in (4, 2, 1):  # the key's low bytes in columns of whole types, widest first
            if rec.key_bytes - at >= width:
                ctype = f"uint{8 * width}_t"
                columns.append((tables.add(f"keys{at}" if at else "keys", ctype, low >> 8 * at & ((1 << 8 * width) - 1),
                                           note=f"{note}: bytes {at}..{at + width - 1}"), ctype))
                at += width
    else:
        columns = [(tables.add("keys", rec.key_t, keys, note=note), rec.key_t)]
    bases = np.append(rec.kbase, rec.keys.size) if sentinel else rec.kbase
    kbase_t = smallest_int(0, int(bases.max()), signed=False)
    tb = tables.add("kbase", kbase_t, bases, note="first key of each slot" + (", then the key count" if sentinel else ""))
    index_t = "uint16_t" if rec.keys.size <= 65535 else "uint32_t"
    if not rec.split_top:
        return _Palette(columns, tb, kbase_t, index_t, [])
    wide_t = f"uint{8 * size_of(rec.key_t)}_t"
    parts, at = [], 0
    for table, ctype in columns:
        read = f"({wide_t}){tables.read(ctype, table, 'i')}"
        parts.append(f"({read} << {8 * at})" if at else read)
        at += size_of(ctype)
    starts, tops, slots = rec.top_runs()
    runs = np.searchsorted(slots, np.arange(rec.n_slots + 1))
    tt = tables.add("tbase", rec.tbase_t, runs, note="first top-byte run of each slot, then the run count")
    ts = tables.add("tstart", "uint8_t", starts, note="first key of each run, within its slot")
    tp = tables.add("ttop", "int8_t", tops, note="top byte of the keys of each run")
    decl = runtime_source("split_key.c", p=model.p, key_t=rec.key_t, s_t=smallest_int(0, rec.n_slots, signed=False),
                          i_t=index_t, e_t=rec.tbase_t, wide_t=wide_t, low_bits=8 * rec.key_bytes,
                          low=" | ".join(parts), read_kbase=tables.read(kbase_t, tb, "s"),
                          read_end=tables.read(rec.tbase_t, tt, "s + 1u"), read_start=tables.read("uint8_t", ts, "e"),
                          read_top=tables.read("int8_t", tp, "e"))
    return _Palette(columns, tb, kbase_t, index_t, [decl])


def _threshold(model: Model, rec: Records, pal: _Palette, idx: str, s: str) -> str:
    """C expression of the key threshold at key index ``idx`` of slot ``s``."""
    key_t, tables = model.key_t, model.tables
    if rec.split_top:
        stored = f"{model.p}_split_key(({smallest_int(0, rec.n_slots, signed=False)})({s}), {idx})"
    else:
        table, ctype = pal.columns[0]
        stored = tables.read(ctype, table, idx)
    threshold = f"({key_t}){stored}"
    if rec.key_shift:  # unsigned shift, then back to signed (two's complement on every C target here)
        ukey = "uint64_t" if key_t == "int64_t" else "uint32_t"
        threshold = f"({key_t})(({ukey}){threshold} << {rec.key_shift})"
    return threshold


def _test(model: Model, flags: dict[str, int], read_t: str, threshold: str) -> str:
    """Statements setting ``left`` for the node: NaN by its flag, categories by bitset, else x <= threshold."""
    steps = []
    if "nan" in flags:
        steps.append((f"x == {int_literal(model.nan_key, model.key_t)}", f"left = (uint8_t)((k & {flags['nan']}u) != 0);"))
    if "cat" in flags:
        steps.append((f"k & {flags['cat']}u", f"left = {model.p}_member({_category(model)}, (uint16_t){read_t});"))
    compare = f"left = (uint8_t)(x <= {threshold});"
    test = ""
    for i, (cond, action) in enumerate(steps):
        test += f"{'if' if i == 0 else ' else if'} ({cond}) {{\n            {action}\n        }}"
    return (test + f" else {{\n            {compare}\n        }}") if steps else compare


def _packed_walk(model: Model, rec: Records, troot: str, tt_t: str) -> tuple[list[str], str]:
    """The walk over packed counted records (:func:`_pack`)."""
    p, tables = model.p, model.tables
    order = list(rec.flags)
    flags = {name: 1 << (rec.ibits + i) for i, name in enumerate(order)}
    sbits = (rec.n_slots - 1).bit_length() or 1
    what = "key index" if rec.global_index else f"slot | key index (or bitset row) << {sbits}"
    tw = tables.add("rec", rec.word_t, rec.word,
                    note=f"per record: {what} | flags << {rec.ibits} "
                         f"({', '.join(_FLAG_NAMES[n] for n in order)}) | decision records in the left subtree << {rec.cbits}")
    pal = _palette(model, rec, sentinel=rec.global_index)
    it, tb = pal.index_t, pal.kbase
    s_t = smallest_int(0, rec.n_slots, signed=False)
    decls = list(pal.decls)
    lines = [f"{rec.word_t} k = {tables.read(rec.word_t, tw, 'r')};"]
    if rec.global_index:
        lines.append(f"{it} i = ({it})(k & {(1 << rec.ibits) - 1}u);")
        lines.append(f"{s_t} s = {p}_slot(i);")
        # a coarse table gives the slot of every 2^step-th key: the search goes on from there
        step = rec.coarse_step
        coarse = np.searchsorted(rec.kbase, np.arange(0, rec.keys.size, 1 << step), side="right") - 1
        tc = tables.add("coarse", s_t, coarse, note=f"slot of key index 2^{step} j")
        decls.append(runtime_source("slot.c", p=p, s_t=s_t, i_t=it, step=step,
                                    read_coarse=tables.read(s_t, tc, f"i >> {step}"),
                                    read_next=tables.read(pal.kbase_t, tb, "s + 1u")))
        read_t = "i"
        idx = "i"
    else:
        lines.append(f"{s_t} s = ({s_t})(k & {(1 << sbits) - 1}u);")
        read_t = f"((k >> {sbits}) & {(1 << (rec.ibits - sbits)) - 1}u)"
        idx = f"({it})({tables.read(pal.kbase_t, tb, 's')} + {read_t})"
    lines.append(f"{_f_t(model)} f = ({_f_t(model)}){_feature(model, rec)};")
    test = _test(model, flags, read_t, _threshold(model, rec, pal, idx, "s"))
    decls.append(_counted_walk(model, rec, troot, "\n        ".join(lines), _value(model), test, tt_t,
                               f"{flags['rl']}u", c_zero=f"k < {1 << rec.cbits}u", c_val=f"(k >> {rec.cbits})"))
    return decls, _tree_loop(model, tt_t, f"{p}_walk(t, features)")


def _walk_qualifier(model: Model) -> str:
    """P_walk's qualifier: out of line beside predict's binary64 step (Plan.soft_after_fixed),
    where inlined into predict's caller avr-gcc 5.4 took 4-19% more cycles a row (digits
    10x6 float and int16 inputs, 30x6, -Os); else inline."""
    return f"{model.p.upper()}_NOINLINE" if model.plan.soft_after_fixed else "inline"


def _counted_walk(model: Model, rec: Records, troot: str, fields: str, value: str, test: str, tt_t: str,
                  rleaf: str, c_zero: str = "c == 0u", c_val: str = "c") -> str:
    """``runtime/c/walk_count.c`` for records of :func:`_encode_counted`."""
    tables = model.tables
    leaf_row = f"({model.row_t})n"
    if rec.lmap is not None:
        note = "leaf row of each leaf number (trees whose rows are not in order)"
        i = f"n & {rec.lflag - 1}u" if rec.lbase is not None else "n"
        if rec.lmap_split:
            tl = tables.add("lrow", "uint8_t", rec.lmap & 255, note=f"{note}: low byte")
            nib = np.append(rec.lmap >> 8, np.zeros(rec.lmap.size % 2, dtype=np.int64))
            th = tables.add("lrowhi", "uint8_t", nib[0::2] | nib[1::2] << 4,
                            note="high 4 bits of each lrow entry, two a byte (even leaf numbers low)")
            high = tables.read("uint8_t", th, f"({i}) >> 1")
            mapped = (f"({model.row_t})({tables.read('uint8_t', tl, i)} | (uint16_t)((({i}) & 1u) ? "
                      f"(uint8_t)({high} >> 4) : (uint8_t)({high} & 15u)) << 8)")
        else:
            tl = tables.add("lrow", rec.lmap_t, rec.lmap, note=note)
            mapped = f"({model.row_t}){tables.read(rec.lmap_t, tl, i)}"
        leaf_row = f"((n & {rec.lflag}u) ? {mapped} : {leaf_row})" if rec.lbase is not None else mapped
    if rec.lbase is None:
        start = f"({rec.lidx_t})(r + t)"
    else:
        tlb = tables.add("lbase", rec.lidx_t, rec.lbase,
                         note=f"first leaf of each tree: its row, or {rec.lflag} | its first entry of lrow")
        start = tables.read(rec.lidx_t, tlb, "t")
    return runtime_source(
        "walk_count.c", p=model.p, qual=_walk_qualifier(model), row_t=model.row_t, idx_t=rec.idx_t, lidx_t=rec.lidx_t, tt_t=tt_t,
        in_t=model.in_t, key_t=model.key_t, read_root=tables.read(rec.idx_t, troot, "t"), fields=fields,
        value=value, test=test, leaf_row=leaf_row, rleaf=rleaf, start=start, c_zero=c_zero, c_val=c_val,
    )


def _category(model: Model) -> str:
    """C expression of the category of the node's feature (f), from its key x."""
    ranked = [(f, f"(int32_t){model.p}_rank(x, {lo}u, {hi}u)") for f, (lo, hi) in sorted(rank_spans(model).items())]
    if len(ranked) < len(model.cat_features()):
        ranked.append((-1, model.category_expr("f", "x", not model.nan)))
    expr = ranked[-1][1]
    for f, rank in reversed(ranked[:-1]):
        expr = f"f == {f}u ? {rank} : {expr}"
    return expr


def _tree_loop(model: Model, tt_t: str, walk: str, cursor: str | None = None) -> str:
    """The loop over trees t around tree t's ``walk`` (``cursor``: see :attr:`Walk.cursor`)."""
    go = f"\n        uint16_t go = {cursor};" if cursor else ""
    return (
        f"    {{\n        {word_type(model.target, tt_t)} t;{go}\n        for (t = 0; t < {model.ens.n_trees}u; ++t) {{\n"
        f"            {model.sink('t', walk)}\n        }}\n    }}"
    )
