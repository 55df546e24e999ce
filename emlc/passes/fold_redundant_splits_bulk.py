"""``fold_redundant_splits`` on whole forests: the plain trees' decisions and rebuilt trees
found all at once, level by level, with :class:`~.fold_redundant_splits.Range`'s rules
applied to arrays. It gives exactly the trees :func:`~.fold_redundant_splits.fold_tree`
builds (the reference, which still folds the DAGs and whatever this cannot decide).

Kept because bench/bench_scale.py shows it: walking every tree instead nearly doubles
compile time on 2,000 RandomForest trees of depth 12 and adds a third on LightGBM.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Ensemble
from .fold_redundant_splits import Range, fold_tree
from .trees.dags import expand_dags
from .trees.forest import Forest, mark_settled, settled
from .trees.hashing import ContentClasses, NodeKeys, in_rank_order, mix
from .trees.rewrite import copied_nodes, rebuild_some, resolved_preorder
from .trees.tables import NodeTable


def fold_forest(ens: Ensemble, classes: ContentClasses, start: list[Range]) -> Ensemble:
    """Every tree of ``ens`` as :func:`fold_tree` folds it.

    The plain trees' decisions are found all at once; a tree with nothing to fold that is
    already built as a fold builds it (see :func:`settled`) is kept as it is, so only the
    trees that change, and the DAGs, are rebuilt (big boosted models change in a few trees).
    """
    fo = Forest(ens)
    decisions = _decisions(ens, fo, start) if fo.levels else None
    keep = np.zeros(ens.n_trees, dtype=bool)
    if decisions is not None:
        keep = settled(fo, ens) & ~fo.per_tree(decisions[0])
        keep &= ~fo.per_tree(_twin_children(fo, NodeKeys(fo, classes)))

    def fold(part: Ensemble, trees: np.ndarray) -> Ensemble:
        expanded, copies = expand_dags(part)
        if decisions is None or (copies >= 0).any():  # DAGs: decided on their expansion
            return _fold_trees(part, expanded, classes, start, copies, None)
        if trees.size == ens.n_trees:
            return _fold_trees(part, expanded, classes, start, copies, decisions, fo)
        nodes = fo.nodes_of(trees)
        decided, go_left, state = decisions
        return _fold_trees(part, expanded, classes, start, copies, (decided[nodes], go_left[nodes], state))

    return rebuild_some(ens, keep, fold)


def _fold_trees(
    ens: Ensemble, expanded: Ensemble, classes: ContentClasses, start: list[Range], copies: np.ndarray,
    decisions: tuple[np.ndarray, np.ndarray, np.ndarray] | None, forest: Forest | None = None,
) -> Ensemble:
    """``ens`` folded: the plain trees of its DAG expansion ``expanded`` (whose :class:`Forest`
    is ``forest``, if built) at once, the others by the walk."""
    folded = _fold_plain(expanded, forest or Forest(expanded), classes, start, copies, decisions)
    out = folded.apply(ens, lambda t: fold_tree(classes, start, t))
    for tree, plain in zip(out.trees, folded.ok.tolist()):
        if plain:  # a plain tree in preorder, normalised
            mark_settled(tree)
    return out


def _twin_children(fo: Forest, keys: NodeKeys) -> np.ndarray:
    """Per node: a split whose children have equal keys. Where no split is decided, a split
    collapses only below such a one (the lowest collapse has two uncollapsed, equal children)."""
    splits = np.flatnonzero(fo.inner)
    a, b = fo.left[splits], fo.right[splits]
    inner = fo.inner[a]
    rows = keys.leaf_class[np.where(inner, 0, fo.leaf[a])], keys.leaf_class[np.where(fo.inner[b], 0, fo.leaf[b])]
    maybe = (inner == fo.inner[b]) & np.where(inner, fo.feature[a] == fo.feature[b], rows[0] == rows[1])
    splits, a, b = splits[maybe], a[maybe], b[maybe]  # equal keys need these equal: compare the rest here
    twin = np.zeros(fo.op.size, dtype=bool)
    twin[splits] = ~keys.differ(a, b)
    return twin


def _fold_plain(
    ens: Ensemble, fo: Forest, classes: ContentClasses, start: list[Range], copies: np.ndarray | None = None,
    decisions: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> NodeTable:
    """:func:`fold_tree` on every plain tree at once (not the others), or on none if a
    split would collapse on a hash collision (then the walk decides).

    Bottom-up, each node resolves to the node the walk builds for it: a decided split to
    its taken child's, a split whose children resolve to equal classes to its left
    child's, any other node to itself. The result is the resolved tree in preorder.
    ``copies`` marks expanded DAGs (see :func:`expand_dags`): where the walk of the DAG
    would meet a node twice with the same ``known`` ranges (and reuse what it built),
    that tree is left to the walk too. ``decisions``: what :func:`_decisions` returns
    for these nodes (with ``copies`` tracked), if already known.
    """
    none = NodeTable.empty(ens.n_trees)
    if not fo.levels:
        return none
    track = copies >= 0 if copies is not None and (copies >= 0).any() else None
    decided, go_left, state = decisions if decisions is not None else _decisions(ens, fo, start, track)
    plain = fo.plain.copy()
    if track is not None:
        plain[_memo_hits(fo, decided, go_left, state, copies)] = False
    resolved, emits = _resolve(fo, NodeKeys(fo, classes), decided, go_left)
    if resolved is None:
        return none
    del decided, go_left, state
    pos, held = resolved_preorder(fo, resolved, emits)
    kept = np.flatnonzero(held)
    src = in_rank_order(fo.starts[fo.tree_of[kept]] + pos[kept], kept, fo.op.size)
    left, right = (pos[resolved[np.maximum(side[src], 0)]] for side in (fo.left, fo.right))
    return NodeTable(copied_nodes(ens, src, left, right), np.bincount(fo.tree_of[src], minlength=ens.n_trees), plain)


def _resolve(fo: Forest, keys: NodeKeys, decided: np.ndarray, go_left: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Per node, bottom-up: the node the walk builds for it, and whether it builds that node
    itself (a leaf, or a split neither decided nor collapsed); None if a collapse rests on
    a hash collision."""
    n = fo.op.size
    own = keys.hashes()
    h = np.zeros(n, dtype=np.uint64)
    resolved = np.arange(n)
    emits = np.zeros(n, dtype=bool)
    twins: list[tuple[np.ndarray, np.ndarray]] = []  # children a split collapses for equal hashes
    with np.errstate(over="ignore"):
        for v in reversed(fo.levels):
            lv, sv = v[~fo.inner[v]], v[fo.inner[v]]
            h[lv], emits[lv] = own[lv], True
            taken = np.where(go_left[sv], fo.left[sv], fo.right[sv])
            rl, rr = resolved[fo.left[sv]], resolved[fo.right[sv]]
            same = h[rl] == h[rr]
            d = decided[sv]
            resolved[sv] = np.where(d, resolved[taken], np.where(same, rl, sv))
            h[sv] = np.where(d, h[taken], np.where(same, h[rl], mix(mix(own[sv], h[rl]), h[rr])))
            emits[sv] = ~d & ~same
            twins.append((rl[~d & same], rr[~d & same]))
    if not _equal_subtrees(fo, keys, resolved, *(np.concatenate(x) for x in zip(*twins))):
        return None, emits
    return resolved, emits


def _equal_subtrees(fo: Forest, keys: NodeKeys, resolved: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Are the built subtrees at ``a[i]`` and ``b[i]`` structurally equal, as their equal
    hashes claim? Compared pair by pair, a level at a time (unequal hashes need no check:
    equal classes always hash equal)."""
    while a.size:
        if keys.differ(a, b).any():
            return False
        split = fo.inner[a]
        a, b = a[split], b[split]
        a = np.concatenate([resolved[fo.left[a]], resolved[fo.right[a]]])
        b = np.concatenate([resolved[fo.left[b]], resolved[fo.right[b]]])
    return True


def _memo_hits(fo: Forest, decided: np.ndarray, go_left: np.ndarray, state: np.ndarray, copies: np.ndarray) -> np.ndarray:
    """Trees where the walk visits two copies of one DAG node with equal ``known`` state
    hashes (a memo hit, or a hash collision: either way the walk decides)."""
    visited = np.zeros(fo.op.size, dtype=bool)
    visited[fo.starts[fo.plain]] = True
    for v in fo.levels:
        sv = v[fo.inner[v] & visited[v]]
        visited[fo.left[sv]] = ~decided[sv] | go_left[sv]
        visited[fo.right[sv]] = ~decided[sv] | ~go_left[sv]
    c = np.flatnonzero(visited & (copies >= 0))
    with np.errstate(over="ignore"):
        key = mix(state[c], copies[c])
    order = np.argsort(key)
    twice = key[order][1:] == key[order][:-1]
    return np.unique(fo.tree_of[c[order][1:][twice]])


def _decisions(
    ens: Ensemble, fo: Forest, start: list[Range], track: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node of the plain trees (see :class:`Forest`), all at once: is it a split the
    walk finds decided by the ranges above it, does it then go left, and a hash of the
    walk's ``known`` ranges when it arrives (equal ``known`` dicts hash equal).

    The ranges follow :class:`Range` exactly, one level at a time: the range of a node's
    feature is what its nearest ancestor on that feature passes down (a decided
    ancestor passes its own range to the child it takes, so it needs no special case),
    else the input's range. ``known`` holds a feature once an undecided split on it is
    passed; each such split swaps its feature's entry in the (xor) hash. Hashes are
    kept only for the nodes ``track`` marks (none by default).
    """
    n = fo.op.size
    threshold = np.asarray(ens.column("threshold"), dtype=np.float64)
    parent = np.full(n, -1, dtype=np.int64)
    side = np.zeros(n, dtype=np.int64)  # 1: right child
    splits = np.flatnonzero(fo.inner)
    parent[fo.left[splits]], parent[fo.right[splits]] = splits, splits
    side[fo.right[splits]] = 1
    # Per feature: the input's range; per split and side (at 2 * split + side): the range it passes down.
    *inputs, integral = (np.array(c) for c in zip(*start))
    first = dict(zip(_FIELDS, inputs))
    passed = {k: np.zeros(2 * n, dtype=first[k].dtype) for k in _FIELDS}
    decided = np.zeros(n, dtype=bool)
    go_left = np.zeros(n, dtype=bool)
    tracked = 0 if track is None else n
    present = np.zeros(tracked, dtype=bool)  # per split: was its feature in ``known`` on arrival?
    state = np.zeros(tracked, dtype=np.uint64)
    feature = fo.feature
    for level in fo.levels:
        v = level[fo.inner[level]]
        if not v.size:
            continue
        f = feature[v]
        a, sd = parent[v], side[v]
        walk = np.flatnonzero(a >= 0)
        walk = walk[feature[a[walk]] != f[walk]]
        while walk.size:  # up to the nearest ancestor on the same feature
            sd[walk], a[walk] = side[a[walk]], parent[a[walk]]
            walk = walk[a[walk] >= 0]
            walk = walk[feature[a[walk]] != f[walk]]
        found = a >= 0
        a0 = np.maximum(a, 0)
        at = 2 * a0 + sd
        r = {k: np.where(found, passed[k][at], first[k][f]) for k in _FIELDS}
        _pass_down(r, fo.op[v], threshold[v], fo.dl[v], integral[f], passed, v, decided, go_left)
        if track is None:
            continue
        present[v] = found & (~decided[a0] | present[a0])
        on = track[v]
        w, f, found = v[on], f[on], present[v[on]]
        before = np.where(found, _entry_hash(f, *(r[k][on] for k in _FIELDS)), 0)
        for sd_, child in ((0, fo.left[w]), (1, fo.right[w])):
            after = _entry_hash(f, *(passed[k][2 * w + sd_] for k in _FIELDS))
            state[child] = np.where(decided[w], state[w], state[w] ^ before ^ after)
    return decided, go_left, state


#: a range's fields but ``integral`` (a feature's, never passed down), in :class:`Range` order.
_FIELDS = Range._fields[:5]


def _entry_hash(f: np.ndarray, lo, los, hi, his, nan) -> np.ndarray:
    """Hash of ``known[f] = Range(...)`` (``-0.0`` counts as ``0.0``, as Range equality does)."""
    flags = np.asarray(f, dtype=np.int64) << 3 | los.astype(np.int64) | his.astype(np.int64) << 1 | nan.astype(np.int64) << 2
    h = flags.view(np.uint64) + np.uint64(7)
    with np.errstate(over="ignore"):
        for part in ((lo + 0.0).view(np.uint64), (hi + 0.0).view(np.uint64)):
            h = mix(h, part)
    return h


def _pass_down(r: dict, op, t, dl, integral, passed: dict, v, decided, go_left) -> None:
    """:meth:`Range.decide` and :meth:`Range.split` for splits ``v`` (ranges ``r`` on arrival):
    whether each is decided and goes left, and the ranges it passes down."""
    arrived = Range(**r, integral=integral)
    with np.errstate(invalid="ignore"):
        decided[v], go_left[v] = arrived.decide(op, t, dl)
        for s, child in enumerate(arrived.split(op, t, dl)):
            at = 2 * v + s
            for k, value in zip(_FIELDS, child):
                passed[k][at] = value
