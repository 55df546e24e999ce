"""Table layout: every tree as a run of fixed-size records in flash, walked by one loop.

Records (struct of arrays, trees back to back, each tree in preorder)::

    P_kind[r]   slot | flags. Slot s < S tests feature P_slotf[s] (the features the model
                uses, numbered densely; no table when that is every feature); slot S is a
                leaf record, slot S + 1 a jump record. Flags: NaN goes left, categorical
                node, right child is a leaf (only the flags the model needs).
    P_thr[r]    threshold: index into the slot's sorted keys P_keys[P_kbase[s] ...] (a
                byte for up to 256 distinct thresholds per feature; keys stored without
                the trailing zero bits they all share), or the key itself when that is
                smaller; categorical nodes: the bitset row
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
never searches rank edges. The loop is ``runtime/c/walk.c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.ensemble import Op, Tree
from .common import int_literal, int_range, size_of, smallest_int
from .features import rank_spans
from .model import Model, Test, Walk, runtime_source
from .inline_text import unranked

_UNSIGNED = ("uint8_t", "uint16_t", "uint32_t")


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

    @property
    def bytes(self) -> int:
        per = size_of(self.kind_t) + size_of(self.thr_t) + size_of(self.right_t)
        total = self.kind.size * per + self.roots.size * size_of(self.idx_t)
        if self.keys is not None:
            total += self.keys.size * size_of(self.key_t) + self.kbase.size * size_of(self.kbase_t)
        if self.slot_features != list(range(self.n_slots)):
            total += self.n_slots * size_of(smallest_int(0, max(self.slot_features), signed=False))
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
        leaf, go = tree.leaf.tolist(), goto.tolist()
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


def encode(model: Model) -> Records:
    """The smallest encoding over threshold palette on/off and right-leaf flag on/off."""
    trees = [_tests(model, tree) for tree in model.ens.trees]
    best: Records | None = None
    for palette in (False, True):
        for rl in (False, True):
            for right_t in _UNSIGNED:
                rec = _encode(model, trees, palette, rl, right_t)
                if rec is not None:
                    if best is None or rec.bytes < best.bytes:
                        best = rec
                    break
    assert best is not None
    return best


def walk_body(model: Model) -> Walk:
    ens, p, tables = model.ens, model.p, model.tables
    rec = encode(model)
    tt_t = smallest_int(0, ens.n_trees, signed=False)
    leaf_code = rec.n_slots
    if not rec.n_slots:  # every tree is a single leaf: its row is known now
        rows = rec.thr[rec.roots] & ((1 << (8 * size_of(rec.thr_t))) - 1) | rec.right[rec.roots] << (8 * size_of(rec.thr_t))
        tr = tables.add("root", model.row_t, rows, note="leaf row of each tree")
        walk = tables.read(model.row_t, tr, "t")
        return Walk([], _tree_loop(model, tt_t, walk), rec)
    tk = tables.add("kind", rec.kind_t, rec.kind, note="slot | flags per record")
    tt = tables.add("thr", rec.thr_t, rec.thr, note="threshold (key index, key or bitset row) | payload low bits")
    tr = tables.add("right", rec.right_t, rec.right, note="records to the right child, leaf row | payload high bits")
    troot = tables.add("root", rec.idx_t, rec.roots, note="first record of each tree")
    read_t = tables.read(rec.thr_t, tt, "r")
    read_r = tables.read(rec.right_t, tr, "r")
    if rec.slot_features == list(range(rec.n_slots)):
        feature = "s"
    else:
        st = smallest_int(0, max(rec.slot_features), signed=False)
        feature = tables.read(st, tables.add("slotf", st, rec.slot_features, note="feature of each slot"), "s")
    key_t = model.key_t
    if model.precision is not None:
        value = f"{p}_key(features[f])"
    else:
        value = f"({key_t})features[f]"
    if rec.keys is not None:
        kt, bt = rec.key_t, rec.kbase_t
        shift = rec.key_shift
        note = "sorted key thresholds per slot" + (f", divided by 2^{shift}" if shift else "")
        tkeys = tables.add("keys", kt, rec.stored_keys if rec.keys.size else [0], note=note)
        tb = tables.add("kbase", bt, rec.kbase, note="first key of each slot")
        it = "uint16_t" if rec.keys.size <= 65535 else "uint32_t"
        idx = f"({it})({tables.read(bt, tb, 's')} + {read_t})"
        threshold = f"({key_t}){tables.read(kt, tkeys, idx)}"
        if shift:  # unsigned shift, then back to signed (two's complement on every C target here)
            ukey = "uint64_t" if key_t == "int64_t" else "uint32_t"
            threshold = f"({key_t})(({ukey}){threshold} << {shift})"
    else:
        threshold = f"({key_t}){read_t}"
    steps = []
    if "nan" in rec.flags:
        steps.append((f"x == {int_literal(model.nan_key, key_t)}", f"left = (uint8_t)((k & {rec.flags['nan']}u) != 0);"))
    if "cat" in rec.flags:
        steps.append((f"k & {rec.flags['cat']}u", f"left = {p}_member({_category(model)}, (uint16_t){read_t});"))
    compare = f"left = (uint8_t)(x <= {threshold});"
    test = ""
    for i, (cond, action) in enumerate(steps):
        test += f"{'if' if i == 0 else ' else if'} ({cond}) {{\n            {action}\n        }}"
    test = (test + f" else {{\n            {compare}\n        }}") if steps else compare
    tbits = 8 * size_of(rec.thr_t)
    pbits = tbits + 8 * size_of(rec.right_t)
    pay_t = "uint16_t" if pbits <= 16 else "uint32_t" if pbits <= 32 else "uint64_t"
    ut = "uint" + rec.thr_t.removeprefix("u").removeprefix("int")
    payload = f"(({pay_t})({ut}){read_t} | (({pay_t}){read_r} << {tbits}))"
    if rec.has_jump:
        special = (f"if (s == {leaf_code}u) {{\n                return ({model.row_t}){payload};\n            }}\n"
                   f"            r = ({rec.idx_t}){payload};\n            continue;")
    else:
        special = f"return ({model.row_t}){payload};"
    if "rl" in rec.flags:
        go_right = (f"{rec.right_t} step = {read_r};\n            if (k & {rec.flags['rl']}u) {{\n"
                    f"                return ({model.row_t})step;\n            }}\n            r = ({rec.idx_t})(r + step);")
    else:
        go_right = f"r = ({rec.idx_t})(r + {read_r});"
    sbits = (rec.n_slots + 1).bit_length()
    decl = runtime_source(
        "walk.c", p=p, row_t=model.row_t, idx_t=rec.idx_t, in_t=model.in_t, kind_t=rec.kind_t, key_t=key_t,
        read_kind=tables.read(rec.kind_t, tk, "r"), slot_mask=f"{(1 << sbits) - 1}u", leaf=f"{leaf_code}u",
        feature=feature, value=value, test=test, special=special, go_right=go_right,
        f_t=smallest_int(0, ens.n_features, signed=False),
    )
    walk = f"{p}_walk({tables.read(rec.idx_t, troot, 't')}, features)"
    return Walk([decl], _tree_loop(model, tt_t, walk), rec)


def _category(model: Model) -> str:
    """C expression of the category of the node's feature (f), from its key x."""
    ranked = [(f, f"(int32_t){model.p}_rank(x, {lo}u, {hi}u)") for f, (lo, hi) in sorted(rank_spans(model).items())]
    if len(ranked) < len(model.cat_features()):
        ranked.append((-1, model.category_expr("f", "x", not model.nan)))
    expr = ranked[-1][1]
    for f, rank in reversed(ranked[:-1]):
        expr = f"f == {f}u ? {rank} : {expr}"
    return expr


def _tree_loop(model: Model, tt_t: str, walk: str) -> str:
    return (
        f"    {{\n        {tt_t} t;\n        for (t = 0; t < {model.ens.n_trees}u; ++t) {{\n"
        f"            {model.sink('t', walk)}\n        }}\n    }}"
    )
