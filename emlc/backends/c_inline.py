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
Tests whose outcome is fixed at compile time are folded away.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from ..ir.ensemble import Op
from . import c_numeric as num
from .c_common import int_literal
from .c_model import Model, Test


_NAN_BITS = 0x7F800000  # float32 bits above this (sign aside) are NaN
_NEG_INF = -(2**31) + _NAN_BITS  # the bits of -inf as int32; -NaN lies in (_NEG_INF, 0)


def can_test_directly(model: Model) -> bool:
    """Can every test read the feature itself (float32 bits or the integer), without P_prepare?"""
    if model.uses_categories():
        return False
    if model.precision is not None and not model.target.direct_float_tests:
        return False
    return model.precision == "float32" and model.in_t == "float" or model.precision is None


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


_NAN_LITERAL = int_literal(_NAN_BITS, "int32_t")


@functools.lru_cache(maxsize=1 << 12)
def _bits_exprs(prefix: str, f: int) -> tuple[str, str]:
    """(bits of feature f, is-NaN test): the same strings for every node on f."""
    s = f"{prefix.upper()}_BITS({f})"
    return s, f"({s} & {int_literal(2**31 - 1, 'int32_t')}) > {_NAN_LITERAL}"


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
    once per model (big models call it for every node).

    Integers compare as they are. A float32's bits ``s`` (as int32) order non-negative
    values like their keys, so for a key threshold ``K >= 0`` the test is ``s <= K``
    (+NaN fails it, -NaN passes it); for ``K < 0`` the negative floats with key
    ``<= K`` are the bits in ``[INT32_MIN - K, bits(-inf)]``.
    """
    cached = getattr(model, "_direct_fn", None)
    if cached is not None:
        return cached
    lo, hi = model.base_range
    prefix, in_t = model.p, model.in_t
    nan_bits, neg_inf = _NAN_LITERAL, int_literal(_NEG_INF, "int32_t")
    macro = model.p.upper()

    def integer(f: int, k: int, nan_left: bool) -> str:
        return f"features[{f}] <= {int_literal(k, in_t)}"

    def half(f: int, k: int, nan_left: bool) -> str:
        return _half_condition(macro, f, k, nan_left, lo, hi)

    def bits(f: int, k: int, nan_left: bool) -> str:
        s, is_nan = _bits_exprs(prefix, f)
        if k >= hi:
            return f"!({is_nan})"
        if k < lo:
            return is_nan
        if k >= 0:
            if nan_left:
                return f"{s} <= {int_literal(k, 'int32_t')} || {s} > {nan_bits}"
            return f"{s} <= {int_literal(k, 'int32_t')} && ({s} >= 0 || {s} <= {neg_inf})"
        start = int_literal(-(2**31) - k, "int32_t")
        if nan_left:
            return f"({s} >= {start} && {s} < 0) || {s} > {nan_bits}"
        return f"{s} >= {start} && {s} <= {neg_inf}"

    if model.precision is None:
        fn = integer
    elif model.target.half_word_tests and model.precision == "float32":
        fn = half
    else:
        fn = bits
    model._direct_fn = fn
    return fn


def _bulk_conditions(model: Model, tree, left: list[int], right: list[int]) -> list[str | int | None] | None:
    """Every node's condition in one pass for direct tests without ranks or categories:
    None for a leaf, the child a folded test always takes, else the C expression."""
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
    nl = tree.default_left
    can_nan = model.nan
    fold_left = ((k >= hi) & (nl | (not can_nan))).tolist()
    fold_right = ((k < lo) & (~nl | (not can_nan))).tolist()
    fn = direct_condition_fn(model)
    leaf = (op == Op.LEAF).tolist()
    return [
        None if lf else left[i] if fl else right[i] if fr else fn(f, kk, n)
        for i, (lf, fl, fr, f, kk, n) in enumerate(
            zip(leaf, fold_left, fold_right, tree.feature.tolist(), k.tolist(), nl.tolist())
        )
    ]


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


def _leaf_sum_lines(model: Model, index: int, row: int, pad: str) -> list[str]:
    """``qC += v`` for the nonzero fixed-point values of leaf row ``row`` (tree ``index``):
    the class sums are plain locals, which the compiler can keep in registers."""
    fx = model.fixed
    assert fx is not None
    o = int(model.ens.tree_output[index])
    out = []
    for c in np.flatnonzero(fx.leaves[row]).tolist():
        v = int(fx.leaves[row, c])
        out.append(f"{pad}q{o + c} {'+' if v > 0 else '-'}= {abs(v)};")
    return out


def tree_code(model: Model, index: int) -> str:
    """Tree ``index``: a block that sets the leaf row and hands it to the sink (with
    :attr:`Model.leaf_sums`, each leaf first adds its fixed-point values to the sums)."""
    ens = model.ens
    tree = ens.trees[index]
    indegree = np.bincount(
        np.concatenate([tree.left[tree.op != Op.LEAF], tree.right[tree.op != Op.LEAF]]),
        minlength=tree.n_nodes,
    )
    label = f"t{index}_n"
    # Python lists and a local constant: numpy scalar indexing and enum look-ups dominate otherwise.
    left, right, leaf = tree.left.tolist(), tree.right.tolist(), tree.leaf.tolist()
    shared = (indegree > 1).tolist()
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
    sums = model.leaf_sums
    base = 2
    leaf_lines = [f"row = {r};" for r in leaf]
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
                if sums:
                    lines.extend(_leaf_sum_lines(model, index, leaf[node], pad))
                append(pad + leaf_lines[node])
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
    if queued:
        lines.append(f"    t{index}_done:")
    return (
        f"    {{   /* tree {index} */\n        {model.row_t} row;\n"
        + "\n".join(lines)
        + f"\n        {model.sink(str(index), 'row')}\n    }}"
    )


def walk_body(model: Model) -> tuple[list[str], str]:
    """(extra declarations, body) that hand every tree's leaf row to the sinks."""
    return [], "\n".join(tree_code(model, i) for i in range(model.ens.n_trees))
