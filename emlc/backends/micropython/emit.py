"""A self-contained MicroPython module with the model inlined as nested if/else.

Sketch of the output::

    N_FEATURES = 4
    CLASSES = (0, 1, 2)

    def _c0(f, a):                   # a run of trees, about 3000 lines at most
        _, _, x2, x3 = f             # features into locals: the cheapest reads
        a0, a1, a2 = a
        # tree 0
        if x2 <= 2.45:
            a0 += 1.0
        else:
            if x3 > 1.75:            # a node that sends NaN left tests "go right"
                a2 += 1.0
            else:
                a1 += 1.0
        ...
        return [a0, a1, a2]

    _CHUNKS = (_c0, ...)
    def raw(features): ...           # run the chunks, average, add the base score
    def predict_proba(features): ...

    def predict(features):           # classifiers: the same trees adding integers
        _, _, x2, x3 = features
        a0 = a1 = a2 = 0
        if x2 <= 2.45:
            a0 += 268435456          # leaf value * 2**s, rounded (see fixed_point)
        ...
        m = max(a0, a1, a2)
        if a0 == m:
            if max(a1, a2) < m - 13: # the winner's proven margin
                return 0             # the label, as a literal
        elif a1 == m:
            ...
        return CLASSES[decide(features)]  # near-tie: the exact float path decides

Measured in the WebAssembly MicroPython after warm-up: a test on a local costs about
two thirds of one on an indexed row (0.25 vs 0.39 us), nested if/else beats any
table walk (the emlc_trees runtime is about 10x slower, bench/bench_micropython.py),
and converting a 64-feature row to ``array('f')`` (28 us) costs more than walking ten
depth-6 trees, so the float32 cast is folded into the thresholds
(:mod:`.lower`) and the row is used as given.
Sums stay in Python floats (doubles, exact for float64 models); float32 models
accumulate in an ``array('f')`` so every addition rounds as numpy's does.
``predict`` for a classifier only needs the winner, so it adds integer leaves instead
(small-int additions never allocate: 0.06 vs 0.12 us) and finds the winner with
``max`` over arguments (0.3 us; ``max`` over a list costs 3 us), with no division;
the C backend's margin rule (:mod:`.fixed_point`) proves the winner or hands
near-ties to the float path. That costs a second copy of the trees in the module.
A lossy early exit (:func:`.lower.early_exit`) instead makes ``predict``
sum like ``raw`` and check the IR's bounds after each check point's trees, returning
the label where :func:`emlc.ir.interpret.interpret_early_exit` stops; exact exits are
left out (measured slower than evaluating every tree with integer scores).
Nothing from the model is pasted into code except
numbers and ``repr`` literals of labels.
"""

from __future__ import annotations

import math
from enum import StrEnum
from collections.abc import Callable

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, Decision, Ensemble, Link, Task
from ..fixed_point import FixedPoint, fixed_point
from .emlc_csv import emit_emlc_csv
from .emlearn_csv import emit_emlearn_csv
from .lower import INT_RANGES, FlatForest, early_exit, lower, number, vote_classes
from ...float_traps import traps_off

__all__ = ["emit_csv", "emit_emlc_csv", "emit_emlearn_csv", "emit_micropython"]

class CsvFlavor(StrEnum):
    """Which CSV format :func:`emit_csv` writes (its value is what users type)."""

    AUTO = "auto"
    EMLEARN = "emlearn"
    EMLC = "emlc"


class Emitter(StrEnum):
    """How MicroPython compiles the module's tree functions (its value is what users type)."""

    BYTECODE = "bytecode"
    NATIVE = "native"
    VIPER = "viper"


def _option(kind: type[StrEnum], value: str, what: str) -> StrEnum:
    try:
        return kind(value)
    except ValueError:
        raise EmlcError(f"unknown {what} {value!r}; choose one of: {', '.join(v.value for v in kind)}") from None


@traps_off
def emit_csv(ens: Ensemble, flavor: CsvFlavor | str = CsvFlavor.AUTO) -> str:
    """A tree CSV for MicroPython.

    ``emlearn``: emlearn-micropython's format (refuses models it cannot express
    exactly); ``emlc``: the emlc format, which keeps every model; ``auto``: emlearn's
    when it is exact, so the file also loads in ``emlearn_trees``, else emlc's. The
    emlc_trees runtime reads both.
    """
    flavor = _option(CsvFlavor, flavor, "CSV flavor")
    if flavor is CsvFlavor.EMLEARN:
        return emit_emlearn_csv(ens)
    if flavor is CsvFlavor.EMLC:
        return emit_emlc_csv(ens)
    try:
        return emit_emlearn_csv(ens)
    except EmlcError:
        return emit_emlc_csv(ens)

_MAX_LINES = 2_000_000
_MAX_DEPTH = 60


def _literal(value: float, kind: str = "d") -> str:
    """A number as MicroPython source; infinities name the module constant ``_INF``."""
    if math.isinf(value):
        return "_INF" if value > 0 else "-_INF"
    return number(value, kind)


def _label_literals(ens: Ensemble) -> list[str] | None:
    """Each class label as a MicroPython literal (``repr`` escapes strings), or None without labels."""
    if ens.classes is None:
        return None
    items = []
    for v in np.asarray(ens.classes).tolist():
        if not isinstance(v, (bool, int, float, str)):
            raise EmlcError(f"class label {v!r} is not a number or a string; relabel the classes")
        items.append("float('nan')" if isinstance(v, float) and math.isnan(v) else
                     _literal(v) if isinstance(v, float) else repr(v))
    return items


def _label_tuple(ens: Ensemble) -> str:
    items = _label_literals(ens)
    if items is None:
        return "None"
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


class _TreeWriter:
    """Nested if/else for one tree of the lowered forest; a leaf adds its nonzero ``leaves`` entries."""

    def __init__(self, ens: Ensemble, flat: FlatForest, leaves: np.ndarray, in_array: bool = False,
                 float_thresholds: bool = False):
        self.flat = flat
        # viper compares objects with objects only: integer thresholds then as float constants
        self.test_kind = "d" if float_thresholds or flat.kind != "i" else "i"
        self.leaves = leaves
        self.kind = "i" if leaves.dtype.kind in "iu" else "d"
        self.in_array = in_array
        lo_hi = INT_RANGES.get(ens.input_type)
        self.always = float(lo_hi[1]) if lo_hi else math.inf
        self.never = float(lo_hi[0] - 1) if lo_hi else math.nan

    def acc(self, j: int) -> str:
        return f"a[{j}]" if self.in_array else f"a{j}"

    def leaf(self, row: int, out: int, pad: str, lines: list[str]) -> None:
        adds = [
            f"{pad}{self.acc(out + j)} += {_literal(float(v), self.kind)}"
            for j, v in enumerate(self.leaves[row].tolist())
            if v != 0
        ]
        lines.extend(adds or [f"{pad}pass"])

    def node(self, ref: int, out: int, depth: int, lines: list[str]) -> None:
        pad = "    " * (depth + 1)
        if len(lines) > _MAX_LINES:
            raise EmlcError(
                "the inlined module would exceed 2 million lines (shared subtrees are copied); "
                "use the emlc CSV with the emlc_trees runtime instead"
            )
        if ref < 0:
            self.leaf(~ref, out, pad, lines)
            return
        if depth >= _MAX_DEPTH:
            raise EmlcError(
                f"a tree is deeper than {_MAX_DEPTH} levels, too deep to nest in MicroPython; "
                "use the emlc CSV with the emlc_trees runtime instead"
            )
        flat = self.flat
        f, t = int(flat.feature[ref]), float(flat.threshold[ref])
        left, right = int(flat.left[ref]), int(flat.right[ref])
        kind = self.test_kind
        if flat.nan_left[ref]:
            if t == math.inf:
                return self.node(left, out, depth, lines)
            test, first, second = (
                (f"x{f} == x{f}", right, left) if math.isnan(t) else (f"x{f} > {_literal(t, kind)}", right, left)
            )
        else:
            if math.isnan(t) or t == self.never:
                return self.node(right, out, depth, lines)
            if flat.kind == "i" and t == self.always:
                return self.node(left, out, depth, lines)
            test, first, second = f"x{f} <= {_literal(t, kind)}", left, right
        lines.append(f"{pad}if {test}:")
        self.node(first, out, depth + 1, lines)
        lines.append(f"{pad}else:")
        self.node(second, out, depth + 1, lines)


def _finish(ens: Ensemble) -> str:
    """A list expression turning the sums ``a0..`` into ``raw``, in the interpreter's order.

    Each output is one expression (loops cost more than the trees in MicroPython);
    ``_r`` rounds to float32 where the model computes in float32.
    """
    n, w = ens.n_trees, ens.leaf_width
    vote = ens.aggregation is Aggregation.VOTE
    integer = ens.leaves.dtype.kind in "iu" and not vote
    f32 = ens.accum_dtype == "float32" and not vote

    def r(expr: str) -> str:
        return f"_r({expr})" if f32 else expr

    base = ens.base_score.astype(np.float64) if vote else ens.base_score.astype(ens.accum_dtype).astype(np.float64)
    scale = np.ones(w) if ens.leaf_scale is None else ens.leaf_scale
    exprs = []
    for j in range(ens.n_outputs):
        v = f"a{j}"
        if vote:
            v = f"a{j} / {n}"
        else:
            if integer:
                v = r(f"{v} * {_literal(float(scale[j % w]))}")
            if ens.aggregation is Aggregation.MEAN:
                v = r(f"{v} / {n}")
        if (vote or integer or ens.aggregation is not Aggregation.SUM) and base[j] != 0:
            v = r(f"{v} + {_literal(float(base[j]))}")
        exprs.append(v)
    return f"[{', '.join(exprs)}]"


def _in_array(ens: Ensemble) -> bool:
    """float32 sums go through an ``array('f')`` (each store rounds); others stay exact in locals."""
    return ens.accum_dtype == "float32" and ens.aggregation is not Aggregation.VOTE and ens.leaves.dtype.kind == "f"


def _raw_leaves(ens: Ensemble) -> np.ndarray:
    """What each leaf adds to ``raw``'s sums: a one-hot vote, integer leaves, or float leaves cast
    to the accumulator type as the interpreter adds them."""
    if ens.aggregation is Aggregation.VOTE:
        return np.eye(ens.leaf_width, dtype=np.int64)[vote_classes(ens)]
    if ens.leaves.dtype.kind in "iu":
        return ens.leaves
    return ens.leaves.astype(ens.accum_dtype).astype(np.float64)


def _raw_start(ens: Ensemble) -> list[str]:
    """``raw``'s sums before the first tree: the base score for float sums, else zero."""
    if ens.aggregation is Aggregation.VOTE or ens.leaves.dtype.kind in "iu":
        return ["0"] * ens.n_outputs
    if ens.aggregation is Aggregation.SUM:
        return [_literal(float(v)) for v in ens.base_score.astype(ens.accum_dtype).astype(np.float64)]
    return ["0.0"] * ens.n_outputs


_CHUNK_LINES = 3000  # trees per function until about this many lines: MicroPython compiles huge functions slowly


def _tree_groups(
    ens: Ensemble, writer: _TreeWriter, flat: FlatForest, checks: Callable[[int], list[str]] | None = None
) -> list[list[str]]:
    """Tree code split into runs of about ``_CHUNK_LINES`` lines (a bigger tree stands alone);
    ``checks(i)`` are lines run right after tree ``i``, kept in the same run."""
    groups: list[list[str]] = [[]]
    for i, root in enumerate(flat.roots.tolist()):
        tree: list[str] = [f"    # tree {i}"]
        writer.node(int(root), int(ens.tree_output[i]), 0, tree)
        if checks is not None:
            tree += checks(i)
        if groups[-1] and len(groups[-1]) + len(tree) > _CHUNK_LINES:
            groups.append([])
        groups[-1].extend(tree)
    return groups


def _unpack(ens: Ensemble, flat: FlatForest, row: str, machine_ints: bool = False) -> list[str]:
    """Features into locals ``x<j>`` (unused ones into ``_``): the cheapest reads in MicroPython.

    ``machine_ints`` (viper, small integer inputs): unpacked as ``y<j>``, then
    ``x<j> = int(y<j>)`` so every test is one machine comparison.
    """
    used = sorted(set(flat.feature.tolist()))
    prefix = "y" if machine_ints else "x"
    names = ", ".join(f"{prefix}{j}" if j in used else "_" for j in range(ens.n_features))
    lines = [f"    {names}{',' if ens.n_features == 1 else ''} = {row}"]
    return lines + ([f"    x{j} = int(y{j})" for j in used] if machine_ints else [])


def viper_machine_ints(ens: Ensemble, flat: FlatForest) -> bool:
    """Under viper, integer inputs up to 16 bits become machine integers (wider ones stay objects)."""
    return flat.kind == "i" and ens.input_type != "int32"


def _accs(ens: Ensemble) -> str:
    return ", ".join(f"a{j}" for j in range(ens.n_outputs)) + ("," if ens.n_outputs == 1 else "")


def _set_locals(start: list[str], viper: bool) -> list[str]:
    """``a0 = ... = v`` when every start value is equal (no list built), else one store each
    (always under viper, which types only a plain ``a0 = 0`` as a machine integer)."""
    if len(set(start)) == 1 and not viper:
        return ["    " + " = ".join(f"a{j}" for j in range(len(start))) + f" = {start[0]}"]
    return [f"    a{j} = {v}" for j, v in enumerate(start)]


def _summing_function(
    ens: Ensemble, flat: FlatForest, writer: _TreeWriter, head: list[str], start: list[str], chunk: str,
    table: str, decorator: list[str], viper: bool = False, checks: Callable[[int], list[str]] | None = None,
) -> list[str]:
    """A function that sums the trees into locals ``a0..`` and then runs the rest of its body.

    ``head`` is the ``def`` line and docstring; the caller appends the code that uses the
    sums. The trees are inline when they fit one function, else in chunk functions
    ``_<chunk><k>(f, a)``, listed in ``table``, passing the sums along in a list (an ``array('f')`` when
    every float32 addition must round). Under ``viper`` the sums taken from that list
    become machine integers with ``int()``, which plain MicroPython reads as a no-op.
    With ``checks`` (early exit), whose lines may return a label, chunks update the sums
    in place and return None to go on, or the label to stop.
    """
    groups = _tree_groups(ens, writer, flat, checks)
    array = f"array('f', ({', '.join(start)},))" if writer.in_array else f"[{', '.join(start)}]"
    machine = viper and viper_machine_ints(ens, flat)
    take = ([f"    a{j} = int(a[{j}])" for j in range(ens.n_outputs)] if viper else [f"    {_accs(ens)} = a"])
    # a row of the wrong length fails the unpacking with ValueError
    if len(groups) == 1:
        init = [f"    a = {array}"] if writer.in_array else _set_locals(start, viper)
        return [*decorator, *head, *_unpack(ens, flat, "features", machine), *init, *groups[0],
                *(take if writer.in_array else [])]
    out: list[str] = []
    for k, body in enumerate(groups):
        out += [*decorator, f"def _{chunk}{k}(f, a):", *_unpack(ens, flat, "f", machine)]
        if writer.in_array:
            out += [*body, *([] if checks else ["    return a"]), "", ""]
        elif checks:
            out += [*take, *body, *(f"    a[{j}] = a{j}" for j in range(ens.n_outputs)), "", ""]
        else:
            out += [*take, *body, f"    return [{_accs(ens)}]", "", ""]
    out += [f"{table} = ({', '.join(f'_{chunk}{k}' for k in range(len(groups)))},)", "", ""]
    run = (["        k = c(features, a)", "        if k is not None:", "            return k"] if checks
           else ["        a = c(features, a)"])
    return [*out, *decorator, *head, f"    a = {array}", f"    for c in {table}:", *run, *take]


def _raw_function(ens: Ensemble, flat: FlatForest, decorator: list[str]) -> list[str]:
    """``raw(features)``: aggregated leaves plus base score, exactly as the interpreter computes them."""
    writer = _TreeWriter(ens, flat, _raw_leaves(ens), in_array=_in_array(ens))
    head = ["def raw(features):", '    """Aggregated leaves plus base score, before the link."""']
    return [*_summing_function(ens, flat, writer, head, _raw_start(ens), "c", "_CHUNKS", decorator),
            f"    return {_finish(ens)}"]


_SMALL_INT_MAX = 2**29 - 1  # MicroPython's small ints hold 30 bits on every 32-bit port: sums never allocate
_CHAIN_OUTPUTS = 16  # up to this many outputs the winner is found without building a list


def fixed_plan(ens: Ensemble) -> FixedPoint | None:
    """Integer class scores that decide ``predict`` with a proven margin (see :mod:`.fixed_point`).

    A hard vote already sums exact integers: with a zero base score its outputs
    ``votes / n`` order as the counts do, so any strict winner is the answer (margin 0).
    """
    if ens.aggregation is not Aggregation.VOTE:
        return fixed_point(ens, _SMALL_INT_MAX)
    if (ens.task is not Task.CLASSIFICATION or ens.decision is not Decision.ARGMAX or ens.link is not Link.IDENTITY
            or ens.n_outputs < 2 or ens.n_trees == 0 or np.any(ens.base_score != 0)):
        return None
    return FixedPoint(1.0, _raw_leaves(ens), np.zeros(ens.n_outputs, dtype=np.int64), 0)  # votes, scale 1


def _fixed_predict(ens: Ensemble, flat: FlatForest, fx: FixedPoint, decorator: list[str], viper: bool) -> list[str]:
    """``predict`` from integer sums: the first largest sum wins when every other one is more
    than ``fx.margin`` below it (an exact plan: always); otherwise ``decide`` runs the exact
    float path.

    Integer additions never allocate, and ``max`` over arguments avoids both the list
    and ``max`` over an iterable, which is ten times slower in MicroPython. ``viper``
    keeps the sums in machine registers: the code only differs by ``int()`` around
    values coming back from calls and by returning labels from the tuple ``_OUT``
    (viper returns objects, not integer literals).
    """
    writer = _TreeWriter(ens, flat, fx.leaves, float_thresholds=viper and not viper_machine_ints(ens, flat))
    head = ["def predict(features):", '    """What the source library\'s predict returns."""']
    start = [str(int(v)) for v in fx.init]
    lines = _summing_function(ens, flat, writer, head, start, "q", "_QCHUNKS", decorator, viper)
    n, accs = ens.n_outputs, [f"a{j}" for j in range(ens.n_outputs)]
    labels = _label_literals(ens)

    def typed(expr: str) -> str:
        return f"int({expr})" if viper else expr

    def label(j: str) -> str:
        if viper:
            return f"_OUT[{j}]"
        return j if labels is None else labels[int(j)] if j.isdigit() else f"CLASSES[{j}]"

    if fx.exact:  # the integer sums decide every row: the first largest wins
        every = ", ".join(accs)
        lines.append(f"    m = {typed(f'max({every})')}")
        lines += [f"    {'if' if j == 0 else 'elif'} a{j} == m:\n        return {label(str(j))}" for j in range(n - 1)]
        return [*lines, f"    return {label(str(n - 1))}"]
    if n <= _CHAIN_OUTPUTS:
        every = ", ".join(accs)
        lines.append(f"    m = {typed(f'max({every})')}")
        for j in range(n):
            others = [a for a in accs if a != accs[j]]
            second = others[0] if len(others) == 1 else typed(f"max({', '.join(others)})")
            lines += [
                f"    {'elif' if j else 'if'} a{j} == m:",
                f"        if {second} < m - {fx.margin}:",
                f"            return {label(str(j))}",
            ]
    else:
        lines += [
            f"    v = [{', '.join(accs)}]",
            f"    m = {typed('max(*v)')}",
            "    i = v.index(m)",
            f"    v[i] = m - {fx.margin + 1}",
            f"    if {typed('max(*v)')} < m - {fx.margin}:",
            f"        return {label('i')}",
        ]
    fallback = "decide(features)" if labels is None else "CLASSES[decide(features)]"
    return [*lines, f"    return {fallback}"]


_LINKS = {
    Link.SIGMOID: ["    return [_r(1.0 / _r(1.0 + _r(math.exp(-_r({alpha} * u))))) for u in v]"],
    Link.SOFTMAX: [
        "    m = {vmax}",
        "    e = [_r(math.exp(_r(u - m))) for u in v]",
        "    s = _r(sum(e))",
        "    return [_r(u / s) for u in e]",
    ],
    Link.EXP: ["    return [_r(math.exp(u)) for u in v]"],
    Link.ISOLATION: ["    return [_r(-_r(2.0 ** _r(-u / {p0})) - {p1}) for u in v]"],
}

# on the raw margins r; {value} is r after the link
_DECISIONS = {
    Decision.ARGMAX: [
        "    v = {value}",
        "    if len(v) == 1:",
        "        return 1 if (1 - v[0]) < v[0] else 0",
        "    return v.index(max(*v))  # max over arguments: max over a list is ten times slower",
    ],
    Decision.RAW_ARGMAX: [
        "    if len(r) == 1:",
        "        return 1 if r[0] >= 0 else 0",
        "    return r.index(max(*r))",
    ],
    Decision.GT_HALF: ["    return 1 if {value}[0] > 0.5 else 0"],
    Decision.SIGN: ["    return 1 if {value}[0] >= 0 else -1"],
}


def _link_and_decision(ens: Ensemble) -> list[str]:
    """``value``/``decide`` of the features, and ``_link``/``_decide`` of raw margins that an
    early-exit ``predict`` applies to the sums it already has."""
    lines: list[str] = []
    if ens.link is Link.IDENTITY:
        lines += ["value = raw  # one call less per prediction", "", ""]
    else:
        p = ens.link_params
        fields = dict(alpha=_literal(p[0] if p else 1.0), p0=_literal(p[0]) if p else "",
                      p1=_literal(p[1]) if len(p) > 1 else "", vmax="max(*v)" if ens.n_outputs > 1 else "v[0]")
        lines += ["def _link(v):", '    """Link outputs of the raw margins v."""',
                  *(s.format(**fields) for s in _LINKS[ens.link]), "", "",
                  "def value(features):", '    """Link outputs: probabilities, regression values or anomaly scores."""',
                  "    return _link(raw(features))", "", ""]
    if ens.task in (Task.CLASSIFICATION, Task.ANOMALY):
        value = "r" if ens.link is Link.IDENTITY else "_link(r)"
        lines += ["def _decide(r):", '    """Class index (or +1/-1 for anomalies) of the raw margins r."""',
                  *(s.format(value=value) for s in _DECISIONS[ens.decision]), "", "",
                  "def decide(features):", '    """Class index (or +1/-1 for anomalies)."""',
                  "    return _decide(raw(features))", "", ""]
    return lines


def _exit_checks(ens: Ensemble, writer: _TreeWriter) -> tuple[Callable[[int], list[str]], list[str]]:
    """The early-exit check after each check point's last tree, and helpers it needs.

    The sums are the interpreter's accumulator, and each bound is added in the bounds'
    arithmetic (``_r`` rounds float32 sums; integers are exact), so a row stops where
    :func:`emlc.ir.interpret.interpret_early_exit` stops it, with its class. The IR's
    bounds are finite, so a NaN sum makes every comparison false: no exit, as there.
    """
    ee = early_exit(ens)
    assert ee is not None
    integer = ee.lower.dtype.kind in "iu"
    r = "_r" if ee.lower.dtype == np.float32 else ""
    n = ens.n_outputs
    labels = _label_literals(ens) or [str(j) for j in range(max(n, 2))]
    at = {int(k) - 1: j for j, k in enumerate(ee.checkpoints.tolist())}

    def plus(o: int, bound) -> str:
        b = str(int(bound)) if integer else _literal(float(bound))
        return f"{r}({writer.acc(o)} + {b})"

    def check(i: int) -> list[str]:
        j = at.get(i)
        if j is None:
            return []
        lo, up = ee.lower[j].tolist(), ee.upper[j].tolist()
        head = f"    # early exit after {i + 1} trees"
        if n == 1:
            return [head, f"    if {plus(0, lo[0])} > 0:", f"        return {labels[1]}",
                    f"    if {plus(0, up[0])} < 0:", f"        return {labels[0]}"]
        if n > _CHAIN_OUTPUTS:
            found = "c" if ens.classes is None else "CLASSES[c]"
            return [head, f"    c = _exit_class([{', '.join(plus(o, lo[o]) for o in range(n))}], "
                          f"[{', '.join(plus(o, up[o]) for o in range(n))}])",
                    "    if c >= 0:", f"        return {found}"]
        lines = [head, *(f"    l{o} = {plus(o, lo[o])}" for o in range(n)),
                 f"    m = max({', '.join(f'l{o}' for o in range(n))})"]
        for c in range(n):
            beats = " and ".join(f"l{c} > {plus(o, up[o])}" for o in range(n) if o != c)
            lines += [f"    {'elif' if c else 'if'} l{c} == m:", f"        if {beats}:", f"            return {labels[c]}"]
        return lines

    helpers = [] if n <= _CHAIN_OUTPUTS else [
        "def _exit_class(lo, up):",
        '    """First c maximising lo if lo[c] beats up of every other output, else -1."""',
        "    c = 0",
        "    for j in range(1, len(lo)):",
        "        if lo[j] > lo[c]:",
        "            c = j",
        "    for o in range(len(up)):",
        "        if o != c and not lo[c] > up[o]:",
        "            return -1",
        "    return c",
        "",
        "",
    ]
    return check, helpers


def _exit_predict(ens: Ensemble, flat: FlatForest, decorator: list[str]) -> list[str]:
    """``predict`` with early exit: ``raw``'s sums, checked after each check point's trees
    (see :func:`_exit_checks`), then the full decision on the sums it has.

    It bypasses the integer class scores: a lossy check must see the interpreter's sums.
    """
    writer = _TreeWriter(ens, flat, _raw_leaves(ens), in_array=_in_array(ens))
    check, helpers = _exit_checks(ens, writer)
    head = ["def predict(features):", '    """What the source library\'s predict returns, stopping early."""']
    lines = _summing_function(ens, flat, writer, head, _raw_start(ens), "x", "_XCHUNKS", decorator, checks=check)
    decided = "_decide(v)" if ens.classes is None else "CLASSES[_decide(v)]"
    return [*helpers, *lines, f"    v = {_finish(ens)}", f"    return {decided}"]


def _predict(ens: Ensemble, flat: FlatForest, emitter: Emitter) -> list[str]:
    """``predict``: with early exit, or integer sums where :func:`fixed_plan` applies, else
    from ``value``/``decide``."""
    if early_exit(ens) is not None:
        return _exit_predict(ens, flat, _decorator(_float_emitter(emitter)))
    fx = fixed_plan(ens)
    if fx is not None:
        viper = emitter is Emitter.VIPER
        out = [f"_OUT = {'CLASSES' if ens.classes is not None else tuple(range(ens.n_outputs))}", "", ""] if viper else []
        return [*out, *_fixed_predict(ens, flat, fx, _decorator(emitter), viper)]
    head = ["def predict(features):", '    """What the source library\'s predict returns."""']
    if ens.task is Task.CLASSIFICATION and ens.decision is Decision.ARGMAX and ens.n_outputs > 1:
        label = "i" if ens.classes is None else "CLASSES[i]"
        return [*head, "    v = value(features)", "    i = v.index(max(*v))", f"    return {label}"]
    if ens.task is Task.CLASSIFICATION:
        return [*head, "    return decide(features)" if ens.classes is None else "    return CLASSES[decide(features)]"]
    if ens.task is Task.ANOMALY:
        return [*head, "    return decide(features)"]
    return [*head, "    v = value(features)", "    return v[0] if len(v) == 1 else v"]


def _float_emitter(emitter: Emitter) -> Emitter:
    """Viper has no float type: functions computing floats are native."""
    return Emitter.NATIVE if emitter is Emitter.VIPER else emitter


def _decorator(emitter: Emitter) -> list[str]:
    return [] if emitter is Emitter.BYTECODE else [f"@micropython.{emitter.value}"]


@traps_off
def emit_micropython(ens: Ensemble, name: str = "model", emitter: Emitter | str = Emitter.BYTECODE) -> str:
    """The model as one MicroPython module with ``predict`` and ``predict_proba``.

    ``emitter``: ``bytecode`` runs everywhere; ``native`` compiles the tree functions
    to machine code (``@micropython.native``); ``viper`` also keeps the integer class
    scores of ``predict`` in machine registers (viper has no float type, so the float
    functions stay ``native``). Ports without these emitters refuse the module.
    """
    emitter = _option(Emitter, emitter, "MicroPython emitter")
    decorator = _decorator(_float_emitter(emitter))
    flat = lower(ens)
    lines = [
        f"# MicroPython module generated by emlc from model {name!r}; do not edit.",
        "from array import array",
        "import math",
        *(["import micropython"] if decorator else []),
        "",
        f"N_FEATURES = {ens.n_features}",
        f"CLASSES = {_label_tuple(ens)}",
        "_F = array('f', [0.0])",
        "_INF = float('inf')",
        "",
        "",
        "def _r(v):",
        "    # rounds to float32 when the model computes in float32, as the source library does",
    ]
    if ens.accum_dtype == "float32" and ens.aggregation is not Aggregation.VOTE:
        lines += ["    _F[0] = v", "    return _F[0]"]
    else:
        lines += ["    return v"]
    lines += ["", "", *_raw_function(ens, flat, decorator), "", "", *_link_and_decision(ens)]
    lines += _predict(ens, flat, emitter)
    lines += ["", "", "def predict_proba(features):", '    """Class probabilities, as the library\'s predict_proba."""']
    if ens.task is Task.CLASSIFICATION and ens.n_outputs == 1 and ens.n_classes == 2:
        lines += ["    p = value(features)[0]", "    return [1 - p, p]"]
    elif ens.task is Task.CLASSIFICATION:
        lines += ["    return value(features)"]
    else:
        lines += ["    raise ValueError('predict_proba needs a classifier')"]
    return "\n".join(lines) + "\n"
