"""The inline walk printed from whole-forest numpy columns, for big models: every node's
condition at once (:func:`bulk_conditions`) and whole plain trees at once
(:func:`plain_blocks`). Each text comes from :mod:`inline_text`'s forms, and the result
is tested equal to :func:`walk_inline.tree_code`'s node-by-node walk, the oracle.
"""

from __future__ import annotations

import functools
import operator
from typing import NamedTuple

import numpy as np

from ...ir.ensemble import Op
from . import numeric as num
from .common import int_literal_formats
from .fixed import FixedPlan
from .inline_text import BITS, bits_forms, block_ends, direct_condition_fn, integer_forms, leaf_lines, length_pad
from .model import Model
from .plan import DirectTest


class Folds(NamedTuple):
    """Key thresholds of a forest's nodes and the decision nodes every value sends one way."""

    k: np.ndarray
    left: np.ndarray
    right: np.ndarray


def fold_columns(model: Model, tree) -> Folds | None:
    """:class:`Folds` of ``tree`` (a tree, or anything with its node columns: all trees back
    to back) for direct tests, None with ranks or categories."""
    op = tree.op
    if (op == Op.CAT).any() or any(r is not None for r in model.ranks):
        return None
    lo, hi = model.base_range
    if model.precision is None:
        t = np.asarray(tree.threshold, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            k = np.clip(np.where(op == Op.LE, np.floor(t), np.ceil(t) - 1), lo - 1, hi).astype(np.int64)
    else:
        k = num.float_threshold_keys(op, tree.threshold, model.precision)
    nl, dec, can_nan = tree.default_left, op != Op.LEAF, model.nan
    return Folds(k, dec & (k >= hi) & (nl | (not can_nan)), dec & (k < lo) & (~nl | (not can_nan)))


def condition_texts(model: Model, tree, k: np.ndarray, nodes: np.ndarray, outer: list[str],
                     outer_of: np.ndarray) -> list[str]:
    """``outer[outer_of[i]] % condition`` of each of ``nodes`` (unfolded direct tests, key
    thresholds ``k``), printed group by group: nodes sharing a feature, a form and a literal
    suffix share one %-format, so a big forest costs one formatting step per node."""
    f, kk, nl = tree.feature[nodes].astype(np.int64), k[nodes], tree.default_left[nodes]
    lo, hi = model.base_range
    fn, kind = direct_condition_fn(model), model.plan.direct_test
    if kind in (DirectTest.HALF, DirectTest.HALF_KEYS, DirectTest.HALF_NO_NAN, DirectTest.FLOAT):  # one call per node
        return [outer[o] % fn(*a) for o, a in zip(outer_of.tolist(), zip(f.tolist(), kk.tolist(), nl.tolist()))]
    if kind is DirectTest.BITS:  # the choice of direct_condition_fn's bits(), for many nodes
        form = np.where(kk >= 0, 3, 5) - nl
        b = BITS[model.precision]
        value = np.where(kk >= 0, kk, -b.sign - np.minimum(kk, 0))
        forms = functools.partial(bits_forms, model.p, precision=model.precision)
        ctype, special = b.ctype, (kk >= hi) | (kk < lo)
    else:
        form, value, ctype = np.zeros_like(kk), kk, model.in_t
        forms, special = integer_forms, np.zeros(kk.shape, dtype=bool)
    value = np.where(special, 0, value)
    suffix, formats, own = int_literal_formats(value, ctype)
    special |= own
    n_forms, n_outer = 6, len(outer)
    code = ((f * n_forms + form) * len(formats) + suffix) * n_outer + outer_of
    if code.max(initial=0) < 4 * code.size + (1 << 16):  # np.unique by counting (a sort takes longer)
        present = np.bincount(code) > 0
        groups, group_of = np.flatnonzero(present), (np.cumsum(present) - 1)[code]
    else:
        groups, group_of = np.unique(code, return_inverse=True)
    table = []
    for c in groups.tolist():
        rest, o = divmod(c, n_outer)
        rest, sfx = divmod(rest, len(formats))
        feature, fo = divmod(rest, n_forms)
        table.append(outer[o] % (forms(feature)[fo] % formats[sfx]))
    texts = list(map(operator.mod, np.array(table, dtype=object)[group_of].tolist(), value.tolist()))
    for i in np.flatnonzero(special).tolist():
        texts[i] = outer[int(outer_of[i])] % fn(int(f[i]), int(kk[i]), bool(nl[i]))
    return texts


def bulk_conditions(model: Model, tree, left: list[int], right: list[int]) -> list[str | int | None] | None:
    """Every node's condition in one pass for direct tests without ranks or categories:
    None for a leaf, the child a folded test always takes, else the C expression."""
    folds = fold_columns(model, tree)
    if folds is None:
        return None
    out = np.full(tree.op.size, None, dtype=object)
    for fold, child in ((folds.left, left), (folds.right, right)):
        at = np.flatnonzero(fold).tolist()
        out[at] = [child[i] for i in at]
    nodes = np.flatnonzero((tree.op != Op.LEAF) & ~folds.left & ~folds.right)
    out[nodes] = condition_texts(model, tree, folds.k, nodes, ["%s"], np.zeros(nodes.size, dtype=np.int64))
    return out.tolist()


class Columns(NamedTuple):
    op: np.ndarray
    threshold: np.ndarray
    feature: np.ndarray
    default_left: np.ndarray


def plain_blocks(model: Model, sums: FixedPlan | None, rows: bool = True) -> list[tuple[str, str, str] | None]:
    """The blocks of all plain trees at once: trees numbered in preorder whose only shared
    nodes are leaves and which have no folded test (what -O2 leaves), built from
    whole-forest numpy columns instead of a walk per node. A split opens at its own
    position, its ``} else {`` follows the last node of its left subtree and its ``}``
    the last node of its right one (deeper closes first); a child leaf stored elsewhere
    (shared) is printed in its place. A block comes as (head, lines, tail). Other trees get
    None (:func:`tree_code` walks them).
    Leaves add their values of plan ``sums`` (if any) and, with ``rows``, set the row."""
    ens = model.ens
    n_trees = ens.n_trees
    if not model.direct or n_trees == 0:
        return [None] * n_trees
    op, lc, rc = ens.column("op"), ens.column("left"), ens.column("right")
    counts = ens.node_counts()
    starts = np.cumsum(counts) - counts
    tree_of = np.repeat(np.arange(n_trees, dtype=np.int32), counts)  # int32 node columns: half the memory
    off = starts.astype(np.int32)[tree_of]
    n = op.size
    dec = op != Op.LEAF
    gl, gr = np.where(dec, lc + off, -1), np.where(dec, rc + off, -1)
    cols = Columns(op, ens.column("threshold"), ens.column("feature"), ens.column("default_left"))
    folds = fold_columns(model, cols)
    if folds is None:
        return [None] * n_trees
    bad = np.zeros(n_trees, dtype=bool)
    bad[tree_of[folds.left | folds.right]] = True
    idx = np.flatnonzero(dec)
    left_in = np.zeros(n, dtype=bool)
    left_in[idx] = gl[idx] == idx + 1
    bad[tree_of[idx[~left_in[idx] & dec[gl[idx]]]]] = True  # a split out of place
    # split depths level by level from the roots, then subtree ends from the deepest level up
    depth = np.full(n, -1, dtype=np.int32)
    depth[starts] = 2
    levels, frontier = [], starts[~bad & dec[starts]]
    while frontier.size:
        levels.append(frontier)
        kids = np.concatenate([gl[frontier], gr[frontier]])
        keep = dec[kids]
        depth[kids[keep]] = np.concatenate([depth[frontier], depth[frontier]])[keep] + 1
        frontier = kids[keep]
    end = np.arange(n, dtype=np.int32)
    right_in = np.zeros(n, dtype=bool)
    for level in reversed(levels):
        left_end = np.where(left_in[level], end[gl[level]], level)
        right_in[level] = gr[level] == left_end + 1
        end[level] = np.where(right_in[level], end[gr[level]], left_end)
    bad[tree_of[idx[~right_in[idx] & dec[gr[idx]]]]] = True  # a split out of place
    bad[tree_of[idx[depth[idx] < 0]]] = True  # a split no root reaches
    good = ~bad[tree_of]
    splits = idx[good[idx]]
    for side, inplace in ((gl, left_in), (gr, right_in)):  # leaves printed where they are stored
        s_in = splits[inplace[splits] & ~dec[side[splits]]]
        depth[side[s_in]] = depth[s_in] + 1
    shown = good & ~dec & (depth >= 0)  # leaves printed where they are stored (a leaf root too)
    shown[splits] = True
    placed = np.flatnonzero(shown)
    vl = splits[~left_in[splits]]  # splits whose left leaf is stored elsewhere: printed here
    vr = splits[~right_in[splits]]
    left_end = np.where(left_in[splits], end[gl[splits]], splits)
    # events sorted by (position, after the node, -depth, order): 0 split, 1 leaf, 2 else, 3 close, 4 left leaf, 5 right leaf
    pos = np.concatenate([placed, left_end, end[splits], vl, np.where(left_in[vr], end[gl[vr]], vr)])
    after = np.concatenate([np.zeros(placed.size, np.int64), np.ones(2 * splits.size + vl.size + vr.size, np.int64)])
    kind = np.concatenate([np.where(dec[placed], 0, 1), np.full(splits.size, 2), np.full(splits.size, 3),
                           np.full(vl.size, 4), np.full(vr.size, 5)])
    node = np.concatenate([placed, splits, splits, vl, vr])
    rank = np.array([0, 0, 1, 3, 0, 2])[kind]  # among one split's events at one position
    deep = int(depth.max()) + 1  # one sort key: a stable sort finds the runs the events come in
    order = np.argsort(((pos * 2 + after) * deep + deep - 1 - depth[node]) * 4 + rank, kind="stable")
    pads = ["    " * d for d in range(int(depth.max()) + 2)]
    leaf, tl = ens.column("leaf").tolist(), tree_of.tolist()

    mark = length_pad(model)[1]

    def leaf_texts(nodes: list[int], depths: list[int]) -> list[str]:
        if sums is not None or not rows:
            return ["\n".join(leaf_lines(model, sums, rows, mark, tl[v], leaf[v], pads[d]))
                    for v, d in zip(nodes, depths)]
        forms = [pad + "row = %d;" + (f"\n{pad}{mark}" if mark else "") for pad in pads]  # leaf_lines' text
        return [forms[d] % leaf[v] for v, d in zip(nodes, depths)]

    # the text of every event, filled kind by kind into its slot in the output (else and
    # close lines depend on depth only)
    slot = np.empty_like(order)
    slot[order] = np.arange(order.size)
    text = np.empty(node.size, dtype=object)
    # the events come kind by kind: placed nodes, then else, close, left and right leaf
    n_placed, n_splits = placed.size, splits.size
    for i, line in enumerate(("} else {", "}")):
        table = np.array([pad + line for pad in pads], dtype=object)
        text[slot[n_placed + i * n_splits:n_placed + (i + 1) * n_splits]] = table[depth[splits]]
    is_split = dec[placed]
    ifs, shown_leaves = placed[is_split], placed[~is_split]
    text[slot[:n_placed][is_split]] = condition_texts(model, cols, folds.k, ifs, [pad + "if (%s) {" for pad in pads],
                                                       depth[ifs])
    text[slot[:n_placed][~is_split]] = leaf_texts(shown_leaves.tolist(), depth[shown_leaves].tolist())
    parents, child = node[n_placed + 2 * n_splits:], np.concatenate([gl[vl], gr[vr]])
    text[slot[n_placed + 2 * n_splits:]] = leaf_texts(child.tolist(), (depth[parents] + 1).tolist())
    lines = text.tolist()
    bounds = np.concatenate([[0], np.cumsum(np.bincount(tree_of[node], minlength=n_trees))]).tolist()
    head, tail = block_ends(model, rows)
    return [
        None if bad[t] else (head(t), "\n".join(lines[bounds[t]:bounds[t + 1]]), tail(t))
        for t in range(n_trees)
    ]
