"""Inline layout: every tree becomes nested if/else code that sets the leaf row.

Sketch of one tree (``v`` are the prepared feature values)::

    {   /* tree 3 */
        uint8_t row;
        if (v[2] <= 1065353216L) {
            row = 7;
        } else if ... 
        P_add(acc, 0, row);
    }

Shared subtrees of a DAG are emitted once, under a label, and reached by ``goto``.
Tests whose outcome is fixed at compile time are folded away. For avr-gcc every leaf
also carries ``P_LEN_PAD`` (see :func:`length_pad`).
"""

from __future__ import annotations

import functools
import operator
from typing import Callable, NamedTuple

import numpy as np

from ...ir.ensemble import Op
from . import numeric as num
from .common import int_literal, int_literal_formats
from .fixed import FixedPlan
from .model import Model, Test, Walk
from .plan import DirectTest


class _Bits(NamedTuple):
    """A float precision's bits read as a signed integer: ``nan`` is +inf's bits (anything
    above, sign aside, is NaN), ``neg_inf`` the bits of -inf; -NaN lies in (neg_inf, 0)."""

    ctype: str
    sign: int  # 2**(width - 1)
    nan: int
    neg_inf: int


_BITS = {
    "float32": _Bits("int32_t", 2**31, 0x7F800000, -(2**31) + 0x7F800000),
    "float64": _Bits("int64_t", 2**63, 0x7FF0000000000000, -(2**63) + 0x7FF0000000000000),
}
_NAN_BITS, _NEG_INF = _BITS["float32"].nan, _BITS["float32"].neg_inf


def unranked(model: Model, test: Test) -> Test:
    """The same test on the feature's own value: rank <= k is x <= edges[k] (x < edges[k] if strict)."""
    rank = model.ranks[test.feature]
    if rank is None:
        return test
    lo, hi = model.base_range
    if test.k >= rank.edges.size:
        return Test(test.feature, hi, False, test.nan_left)
    if test.k < 0:
        return Test(test.feature, lo - 1, False, test.nan_left)
    op = Op.LT if rank.strict else Op.LE
    return Test(test.feature, model.base_threshold(op, float(rank.edges[test.k])), False, test.nan_left)


@functools.lru_cache(maxsize=1 << 12)
def _bits_forms(prefix: str, f: int, precision: str = "float32") -> tuple[str, ...]:
    """The C forms of a test on float feature f's bits, numbered as :func:`direct_condition_fn`
    picks them: 0 not NaN, 1 NaN (no literal), then 2 + (K < 0) * 2 + (NaN goes right),
    each with ``%s`` for its literal (K if K >= 0, else the sign bit's value less K)."""
    b = _BITS[precision]
    s = f"{prefix.upper()}_BITS({f})"
    nan, neg_inf = int_literal(b.nan, b.ctype), int_literal(b.neg_inf, b.ctype)
    is_nan = f"({s} & {int_literal(b.sign - 1, b.ctype)}) > {nan}"
    return (
        f"!({is_nan})",
        is_nan,
        f"{s} <= %s || {s} > {nan}",
        f"{s} <= %s && ({s} >= 0 || {s} <= {neg_inf})",
        f"({s} >= %s && {s} < 0) || {s} > {nan}",
        f"{s} >= %s && {s} <= {neg_inf}",
    )


def _integer_forms(f: int) -> tuple[str]:
    """The C form of a test on integer feature f (``%s``: its literal)."""
    return (f"features[{f}] <= %s",)


_NAN_HI, _NEG_INF_HI = _NAN_BITS >> 16, _NEG_INF >> 16  # upper halves of +inf and -inf


@functools.lru_cache(maxsize=1 << 16)
def _half_condition(macro: str, f: int, k: int, nan_left: bool, lo: int, hi: int) -> str:
    """The key test ``key <= k`` on the halves of the float's bits (``h`` signed upper,
    ``l`` lower): ordered so that ordinary values are decided by two compares of ``h``,
    ``l`` read only when ``h`` equals a bound's upper half."""
    h, low = f"{macro}_HI({f})", f"{macro}_LO({f})"
    lit = functools.partial(int_literal, ctype="int16_t")
    not_neg_nan = f"{h} < {_NEG_INF_HI} || ({h} == {_NEG_INF_HI} && {low} == 0u)"  # for h < 0
    pos_nan = f"({h} >= {_NAN_HI} && ({h} > {_NAN_HI} || {low} != 0u))"  # for h >= 0
    if k >= hi:  # not NaN
        return f"({h} >= 0 && ({h} < {_NAN_HI} || ({h} == {_NAN_HI} && {low} == 0u))) || {not_neg_nan}"
    if k < lo:  # NaN
        return f"{pos_nan} || ({h} < 0 && ({h} > {_NEG_INF_HI} || ({h} == {_NEG_INF_HI} && {low} != 0u)))"
    if k >= 0:  # the bits of [0, k] (and of the negatives, NaN aside)
        kh, kl = k >> 16, k & 0xFFFF
        if kl == 0xFFFF:
            head, tie = f"{h} <= {lit(kh)}", ""
        else:
            head, tie = f"{h} < {lit(kh)}", f"{h} == {lit(kh)} && " + (f"{low} == 0u" if kl == 0 else f"{low} <= {kl}u")
        if nan_left:
            return " || ".join([head, *([f"({tie})"] if tie else []), pos_nan])
        left = f"{head} && ({h} >= 0 || {not_neg_nan})"
        return f"({left}) || ({tie})" if tie else left
    # k < 0: the negative floats from start up to -inf (as signed bits)
    start = -(2**31) - k
    sh, sl = start >> 16, start & 0xFFFF
    if sl == 0:
        span = f"{h} >= {lit(sh)}"
    else:
        span = f"({h} > {lit(sh)} || ({h} == {lit(sh)} && {low} >= {sl}u))"
    if nan_left:
        return f"({h} < 0 && {span}) || {pos_nan}"
    return f"{h} < 0 && {span} && ({not_neg_nan})"


def direct_condition(model: Model, test: Test) -> str:
    """C expression true when the node sends the row left, reading the feature directly."""
    return direct_condition_fn(model)(test.feature, test.k, test.nan_left)


def direct_condition_fn(model: Model) -> Callable[[int, int, bool], str]:
    """(feature, key threshold, NaN goes left) -> the direct test's C expression, specialised
    once per model (:func:`_condition_texts` prints many at once, from the same forms).

    Integers compare as they are. A float32's bits ``s`` (as int32) order non-negative
    values like their keys, so for a key threshold ``K >= 0`` the test is ``s <= K``
    (+NaN fails it, -NaN passes it); for ``K < 0`` the negative floats with key
    ``<= K`` are the bits in ``[INT32_MIN - K, bits(-inf)]``.
    """
    kind = model.plan.direct_test
    assert kind is not None, "direct tests need a plan with FeatureAccess.DIRECT"
    return _direct_fn(model.p, model.in_t, model.precision, model.base_range, kind)


@functools.lru_cache(maxsize=16)
def _direct_fn(prefix: str, in_t: str, precision: str | None, base_range: tuple[int, int],
               kind: DirectTest) -> Callable[[int, int, bool], str]:
    lo, hi = base_range
    macro = prefix.upper()
    b = _BITS.get(precision or "float32")

    def integer(f: int, k: int, nan_left: bool) -> str:
        return _integer_forms(f)[0] % int_literal(k, in_t)

    def half(f: int, k: int, nan_left: bool) -> str:
        return _half_condition(macro, f, k, nan_left, lo, hi)

    def bits(f: int, k: int, nan_left: bool) -> str:
        forms = _bits_forms(prefix, f, precision)
        if k >= hi:
            return forms[0]
        if k < lo:
            return forms[1]
        if k >= 0:
            return forms[3 - nan_left] % int_literal(k, b.ctype)
        return forms[5 - nan_left] % int_literal(-b.sign - k, b.ctype)

    return {DirectTest.INTEGER: integer, DirectTest.HALF: half, DirectTest.BITS: bits}[kind]


class _Folds(NamedTuple):
    """Key thresholds of a forest's nodes and the decision nodes every value sends one way."""

    k: np.ndarray
    left: np.ndarray
    right: np.ndarray


def _folds(model: Model, tree) -> _Folds | None:
    """:class:`_Folds` of ``tree`` (a tree, or anything with its node columns: all trees back
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
    return _Folds(k, dec & (k >= hi) & (nl | (not can_nan)), dec & (k < lo) & (~nl | (not can_nan)))


def _condition_texts(model: Model, tree, k: np.ndarray, nodes: np.ndarray, outer: list[str],
                     outer_of: np.ndarray) -> list[str]:
    """``outer[outer_of[i]] % condition`` of each of ``nodes`` (unfolded direct tests, key
    thresholds ``k``), printed group by group: nodes sharing a feature, a form and a literal
    suffix share one %-format, so a big forest costs one formatting step per node."""
    f, kk, nl = tree.feature[nodes].astype(np.int64), k[nodes], tree.default_left[nodes]
    lo, hi = model.base_range
    fn, kind = direct_condition_fn(model), model.plan.direct_test
    if kind is DirectTest.HALF:  # one call per node
        return [outer[o] % fn(*a) for o, a in zip(outer_of.tolist(), zip(f.tolist(), kk.tolist(), nl.tolist()))]
    if kind is DirectTest.BITS:  # the choice of direct_condition_fn's bits(), for many nodes
        form = np.where(kk >= 0, 3, 5) - nl
        b = _BITS[model.precision]
        value = np.where(kk >= 0, kk, -b.sign - np.minimum(kk, 0))
        forms = functools.partial(_bits_forms, model.p, precision=model.precision)
        ctype, special = b.ctype, (kk >= hi) | (kk < lo)
    else:
        form, value, ctype = np.zeros_like(kk), kk, model.in_t
        forms, special = _integer_forms, np.zeros(kk.shape, dtype=bool)
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


def _bulk_conditions(model: Model, tree, left: list[int], right: list[int]) -> list[str | int | None] | None:
    """Every node's condition in one pass for direct tests without ranks or categories:
    None for a leaf, the child a folded test always takes, else the C expression."""
    folds = _folds(model, tree)
    if folds is None:
        return None
    out = np.full(tree.op.size, None, dtype=object)
    for fold, child in ((folds.left, left), (folds.right, right)):
        at = np.flatnonzero(fold).tolist()
        out[at] = [child[i] for i in at]
    nodes = np.flatnonzero((tree.op != Op.LEAF) & ~folds.left & ~folds.right)
    out[nodes] = _condition_texts(model, tree, folds.k, nodes, ["%s"], np.zeros(nodes.size, dtype=np.int64))
    return out.tolist()


def condition(model: Model, test: Test) -> str:
    """C expression true when the node sends the row left (the test is not folded)."""
    p = model.p
    if model.direct:
        return direct_condition(model, test)
    v = f"v[{test.feature}]"
    nan = int_literal(model.nan_key, model.key_t)
    if test.cat:
        plain = model.ranks[test.feature] is not None or not model.nan
        member = f"{p}_member({model.category_expr(str(test.feature), v, plain)}, {test.k}u)"
        if not model.nan:
            return member
        return f"{v} == {nan} || {member}" if test.nan_left else f"{v} != {nan} && {member}"
    lo, hi = model.value_range(test.feature)
    if test.k >= hi:
        return f"{v} != {nan}"  # always left unless NaN, which goes right
    if test.k < lo:
        return f"{v} == {nan}"
    cmp = f"{v} <= {int_literal(test.k, model.key_t)}"
    if model.nan and not test.nan_left:
        return f"{v} != {nan} && {cmp}"
    return cmp


def length_pad(model: Model) -> tuple[list[str], str]:
    """(declaration, leaf statement) that keep avr-gcc 5's code size estimate above the truth.

    avr-gcc 5 sizes a conditional branch to a label exactly 64 words ahead as one word
    (``brXX``) but prints the two-word ``brXX .+2`` + ``rjmp`` (its ``branch`` length
    attribute counts from the next insn, ``avr_jump_mode`` from the branch itself). Each
    such branch puts the following code 2 bytes further than GCC believes, so in big walks
    an ``rjmp`` GCC sized just within its 4 KB reach lands a few bytes past it and the link
    fails (``relocation truncated to fit: R_AVR_13_PCREL``; 5 of 32 digits forests of
    100-160 KB). GCC sizes an asm statement as its
    longest instruction (4 bytes on AVR); an assembler comment emits nothing, so one per
    leaf makes every long jump's estimate exceed its real distance by far more than those
    branches add (those 32 all link; digits 10x6: 14% less flash, 2 more cycles of 1,247).
    Other compilers get an empty statement."""
    if model.target.compiler != "avr-gcc":
        return [], ""
    m = model.p.upper()
    decl = (
        "/* Leaves carry an asm statement holding only a comment: no code, but avr-gcc 5 counts\n"
        " * 4 bytes for it, enough to cover the forward branches it sizes one word short, which\n"
        " * otherwise push a long rjmp out of reach (the link fails: relocation truncated to fit). */\n"
        f"#if defined(__GNUC__) && defined(__AVR__) && !defined(__clang__)\n#define {m}_LEN_PAD __asm__ (\";\")\n"
        f"#else\n#define {m}_LEN_PAD (void)0\n#endif"
    )
    return [decl], f"{m}_LEN_PAD;"


def _leaf_sum_lines(model: Model, fx: FixedPlan, index: int, row: int, pad: str) -> list[str]:
    """``qC += v`` for the nonzero fixed-point values (plan ``fx``) of leaf row ``row``
    (tree ``index``): the class sums are plain locals, which the compiler can keep in
    registers."""
    o = int(model.ens.tree_output[index])
    out = []
    for c in np.flatnonzero(fx.leaves[row]).tolist():
        v = int(fx.leaves[row, c])
        out.append(f"{pad}q{o + c} {'+' if v > 0 else '-'}= {abs(v)};")
    return out


def _leaf_lines(model: Model, sums: FixedPlan | None, rows: bool, mark: str, index: int, row: int,
                pad: str) -> list[str]:
    """A leaf's statements in tree ``index``: its values of plan ``sums`` added (if any),
    with ``rows`` its leaf row set, then the length pad ``mark`` (if any)."""
    lines = _leaf_sum_lines(model, sums, index, row, pad) if sums is not None else []
    if rows:
        lines.append(f"{pad}row = {row};")
    if mark:
        lines.append(pad + mark)
    return lines


class _Columns(NamedTuple):
    op: np.ndarray
    threshold: np.ndarray
    feature: np.ndarray
    default_left: np.ndarray


def _plain_blocks(model: Model, sums: FixedPlan | None, rows: bool = True) -> list[tuple[str, str, str] | None]:
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
    cols = _Columns(op, ens.column("threshold"), ens.column("feature"), ens.column("default_left"))
    folds = _folds(model, cols)
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
            return ["\n".join(_leaf_lines(model, sums, rows, mark, tl[v], leaf[v], pads[d]))
                    for v, d in zip(nodes, depths)]
        forms = [pad + "row = %d;" + (f"\n{pad}{mark}" if mark else "") for pad in pads]  # _leaf_lines' text
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
    text[slot[:n_placed][is_split]] = _condition_texts(model, cols, folds.k, ifs, [pad + "if (%s) {" for pad in pads],
                                                       depth[ifs])
    text[slot[:n_placed][~is_split]] = leaf_texts(shown_leaves.tolist(), depth[shown_leaves].tolist())
    parents, child = node[n_placed + 2 * n_splits:], np.concatenate([gl[vl], gr[vr]])
    text[slot[n_placed + 2 * n_splits:]] = leaf_texts(child.tolist(), (depth[parents] + 1).tolist())
    lines = text.tolist()
    bounds = np.concatenate([[0], np.cumsum(np.bincount(tree_of[node], minlength=n_trees))]).tolist()
    head, tail = _block_ends(model, rows)
    return [
        None if bad[t] else (head(t), "\n".join(lines[bounds[t]:bounds[t + 1]]), tail(t))
        for t in range(n_trees)
    ]


def _block_ends(model: Model, rows: bool) -> tuple[Callable[[int], str], Callable[[int], str]]:
    """Opening and closing text of tree ``t``'s block: with ``rows``, a local leaf row
    handed to the sink at the end."""
    if not rows:
        return (lambda t: f"    {{   /* tree {t} */\n"), (lambda t: "\n    }")
    return ((lambda t: f"    {{   /* tree {t} */\n        {model.row_t} row;\n"),
            (lambda t: f"\n        {model.sink(str(t), 'row')}\n    }}"))


def tree_code(model: Model, index: int, sums: FixedPlan | None, rows: bool = True) -> str:
    """Tree ``index``: a block whose leaves add their values of plan ``sums`` (if any)
    and, with ``rows``, set the leaf row that the block hands to the sink."""
    ens = model.ens
    tree = ens.trees[index]
    indegree = np.bincount(
        np.concatenate([tree.left[tree.op != Op.LEAF], tree.right[tree.op != Op.LEAF]]),
        minlength=tree.n_nodes,
    )
    label = f"t{index}_n"
    # Python lists and a local constant: numpy scalar indexing and enum look-ups dominate otherwise.
    left, right, leaf = tree.left.tolist(), tree.right.tolist(), tree.leaf.tolist()
    # leaves reached twice are repeated (an assignment is no bigger than a jump to it)
    shared = ((indegree > 1) & (tree.op != Op.LEAF)).tolist()
    # per node: None (leaf), the child every value reaches (folded test), or the C condition
    conds = _bulk_conditions(model, tree, left, right) if model.direct else None
    if conds is None:
        unrank = model.direct and any(r is not None for r in model.ranks)
        cond = direct_condition if model.direct else condition
        conds = []
        for node, test in enumerate(model.tests(tree)):
            if test is None:
                conds.append(None)
                continue
            if unrank:
                test = unranked(model, test)
            fixed = model.folded(test)
            conds.append(cond(model, test) if fixed is None else (left[node] if fixed else right[node]))
    lines: list[str] = []
    queued: list[int] = []
    queued_set: set[int] = set()
    base = 2
    mark = length_pad(model)[1]
    wide = tree.n_nodes + base + 2  # stack items pack node * wide + depth (depth < wide)
    pads: list[str] = []

    def nest(root: int, depth: int) -> None:
        # Items are finished lines (str) or node * wide + depth (int) still to print.
        stack: list[str | int] = [root * wide + depth]
        append, push = lines.append, stack.append
        while stack:
            item = stack.pop()
            if item.__class__ is str:
                append(item)
                continue
            node, d = divmod(item, wide)
            while len(pads) <= d:
                pads.append("    " * len(pads))
            pad = pads[d]
            if node != root and shared[node]:
                if node not in queued_set:
                    queued_set.add(node)
                    queued.append(node)
                append(f"{pad}goto {label}{node};")
                continue
            c = conds[node]
            if c is None:
                lines.extend(_leaf_lines(model, sums, rows, mark, index, leaf[node], pad))
                continue
            if c.__class__ is int:
                push(c * wide + d)
                continue
            append(f"{pad}if ({c}) {{")
            push(pad + "}")
            push(right[node] * wide + d + 1)
            push(pad + "} else {")
            push(left[node] * wide + d + 1)

    nest(0, base)
    done = 0
    while done < len(queued):
        node = queued[done]
        done += 1
        lines.append(f"        goto t{index}_done;")
        lines.append(f"    {label}{node}:")
        nest(node, base)
    if queued:  # without rows nothing follows the label: a null statement does
        lines.append(f"    t{index}_done:" + ("" if rows else " ;"))
    head, tail = _block_ends(model, rows)
    return head(index) + "\n".join(lines) + tail(index)


def walk_body(model: Model, plain: bool = True) -> Walk:
    """(extra declarations, body as pieces to join) that hand every tree's leaf row to the sinks
    (``plain``: plain trees from :func:`_plain_blocks`, the same text as the walk's);
    with :attr:`Model.leaf_sums` the leaves first add their :attr:`Model.fixed` values."""
    return Walk(length_pad(model)[0], _walk(model, plain, model.fixed if model.leaf_sums else None, True))


def sums_body(model: Model, sums: FixedPlan) -> str:
    """A walk whose leaves only add their values of plan ``sums`` (no rows, no sinks)."""
    return "".join(_walk(model, True, sums, False))


def _walk(model: Model, plain: bool, sums: FixedPlan | None, rows: bool) -> list[str]:
    """The walk as pieces to join once: big models' walks run to megabytes, and every
    whole copy costs (a plain block comes as its head, lines and tail, the tail with the sink)."""
    blocks = _plain_blocks(model, sums, rows) if plain else [None] * model.ens.n_trees
    out: list[str] = []
    for i, b in enumerate(blocks):
        if out:
            out.append("\n")
        if b is None:
            out.append(tree_code(model, i, sums, rows))
        else:
            out += b
    return out
