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

from dataclasses import replace

import numpy as np

from ...ir.ensemble import Op
from . import nan_guard
from .fixed import FixedPlan
from .inline_text import block_ends, condition, direct_condition, leaf_lines, length_pad, unranked
from .model import Model, Walk
from .plan import DirectTest
from .walk_inline_bulk import bulk_conditions, plain_blocks


def node_conditions(model: Model, tree, left: list[int], right: list[int]) -> list[str | int | None]:
    """Per node of ``tree``: None (leaf), the child every value reaches (a folded test), or
    the C condition sending a row left. Node by node: the rule the bulk printer follows."""
    unrank = model.direct and any(r is not None for r in model.ranks)
    cond = direct_condition if model.direct else condition
    conds: list[str | int | None] = []
    for node, test in enumerate(model.tests(tree)):
        if test is None:
            conds.append(None)
            continue
        if unrank:
            test = unranked(model, test)
        fixed = model.folded(test)
        conds.append(cond(model, test) if fixed is None else (left[node] if fixed else right[node]))
    return conds


def tree_code(model: Model, index: int, sums: FixedPlan | None, rows: bool = True, bulk: bool = False) -> str:
    """Tree ``index``: a block whose leaves add their values of plan ``sums`` (if any)
    and, with ``rows``, set the leaf row that the block hands to the sink. ``bulk``: the
    conditions come from :func:`walk_inline_bulk.bulk_conditions` where it applies."""
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
    conds = bulk_conditions(model, tree, left, right) if bulk and model.direct else None
    if conds is None:
        conds = node_conditions(model, tree, left, right)
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
                lines.extend(leaf_lines(model, sums, rows, mark, index, leaf[node], pad))
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
    head, tail = block_ends(model, rows)
    return head(index) + "\n".join(lines) + tail(index)


def walk_body(model: Model) -> Walk:
    """(extra declarations, body as pieces to join) that hand every tree's leaf row to the sinks;
    with :attr:`Model.leaf_sums` the leaves first add their :attr:`Model.fixed` values; with
    :attr:`Plan.keyed_rows` the tests compare int16 keys where half_keys allows; with
    :attr:`Plan.guarded` rows that may hold a NaN take the table walk first (nan_guard)."""
    printer = model.with_plan(replace(model.plan, direct_test=DirectTest.HALF_KEYS)) if model.plan.keyed_rows else model
    body = _walk(printer, True, model.fixed if model.leaf_sums else None, True)
    if not model.plan.guarded:
        return Walk(length_pad(model)[0], body)
    return Walk(length_pad(model)[0] + nan_guard.guard_functions(model), [nan_guard.rows_guard(model), *body])


def sums_body(model: Model, sums: FixedPlan) -> str:
    """A walk whose leaves only add their values of plan ``sums`` (no rows, no sinks),
    undecided at once for a row the guard does not clear (:attr:`Plan.guarded`)."""
    guard = nan_guard.quick_guard(model) if model.plan.guarded else ""
    return guard + "".join(_walk(model, True, sums, False))


def _walk(model: Model, bulk: bool, sums: FixedPlan | None, rows: bool) -> list[str]:
    """The walk as pieces to join once: big models' walks run to megabytes, and every
    whole copy costs (a plain block comes as its head, lines and tail, the tail with the sink).
    ``bulk``: printed from whole-forest columns where it applies (:mod:`walk_inline_bulk`);
    without, node by node, the oracle the bulk printer is tested against."""
    blocks = plain_blocks(model, sums, rows) if bulk else [None] * model.ens.n_trees
    out: list[str] = []
    for i, b in enumerate(blocks):
        if out:
            out.append("\n")
        if b is None:
            out.append(tree_code(model, i, sums, rows, bulk))
        else:
            out += b
    return out
