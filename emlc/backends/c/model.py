"""The emission context of one C build: the ensemble, target, plan and flash tables, and
what every emitter asks of them (feature value ranges, node tests as integer keys, the sink
placeholders a walk leaves for its leaf rows).

The emitted header has this shape (``P`` is the model name); each part has its module::

    P_key / P_rank / P_member ...   runtime helpers from runtime/c/, only those needed (features)
    P_leaves or P_lval, P_base ...  constant tables in flash (leaf_tables: float leaves sparse
                                    when that is smaller and exact, counts when exact)
    P_prepare(features, v)          v[f] = integer value of feature f: an order key for floats
                                    (NaN -> P_NAN), the rank for ranked ones (features; only
                                    when tests cannot read features directly or lazily)
    P_rows / P_raw / P_sum          walks every tree (walk_inline, walk_table), adds leaf rows,
                                    applies MEAN/VOTE/leaf_scale/base_score (sums)
    P_head / P_head0, P_head1 ...   the table walk's start past each tree's top levels, tested in
                                    AVR assembly (walk_head)
    P_plain / P_nan_rows            the guard of NaN-free inline tests and the table walk of the
                                    rows it stops (nan_guard)
    P_fast / P_quick                predict's integer fast paths (sums, over fixed's plans)
    P_exact                         float64 near-ties in binary64 (soft64)
    P_exit / P_classify / P_run     early exit (exit_checks, exit_walk)
    P_link, P_argmax                outputs from raw margins (link)
    P_predict, P_predict_proba / P_predict_values    the public API (api)

All node tests are integer comparisons ``v[f] <= K`` decided exactly at compile time
(:mod:`emlc.backends.c.numeric`), so targets without an FPU never touch float math
on the decision path. Layouts hand each tree's leaf row to a placeholder (:meth:`Model.sink`)
that every function built from the walk fills in its own way (record, add, add and check).
"""

from __future__ import annotations

from collections.abc import Callable
from string import Template
from typing import Any, NamedTuple

from ...cost import needs_exp
from ...ir.ensemble import Ensemble, Op, Task
from ...paths import runtime_dir
from ...targets import Target
from . import numeric as num
from .common import FlashTables, float_literal
from .exit_checks import ExitPlan
from .plan import FeatureAccess, Plan, make_plan, uses_categories

_CAT, _LEAF = int(Op.CAT), int(Op.LEAF)  # an enum look-up per node shows in the profile of big models


#: marks where a layout's walk hands over a tree's leaf row (filled per function)
_SINK = ("\x01", "\x02", "\x03")


def runtime_source(name: str, **fields: object) -> str:
    """A runtime/c/ snippet with its ${fields} filled in."""
    text = (runtime_dir() / "c" / name).read_text()
    return Template(text).substitute({k: str(v) for k, v in fields.items()})


class Walk(NamedTuple):
    """What a layout's walk gives the build: extra declarations, the body (pieces to join,
    with a sink per tree), the table layout's node records (for --report) and, where the
    body is a loop over trees t, tree t's leaf row (a C expression of t, features and,
    with a ``cursor``, go: a uint16_t the loop starts at the expression ``cursor`` before
    the first tree, which each row moves on to the next)."""

    decls: list[str]
    body: str | list[str]
    records: object | None = None
    row: str | None = None
    cursor: str | None = None


class Test(NamedTuple):
    """One decision node as the C code sees it: go left when ``v[feature] <= k``
    (``cat`` False) or when the category is in bitset row ``k``; NaN goes to ``nan_left``.
    A named tuple: big models make one per node, and it builds faster than a dataclass."""

    feature: int
    k: int
    cat: bool
    nan_left: bool


class Model:
    """Facts about one ensemble on one target that all layouts need."""

    def __init__(self, ens: Ensemble, target: Target, prefix: str, plan: Plan | None = None):
        self.ens = ens
        self.target = target
        self.p = prefix
        #: the build's decisions (default: the layout the size rule picks)
        self.plan = plan if plan is not None else make_plan(ens, target)
        self.tables = FlashTables(prefix, target)
        self.ranks = tuple(ens.feature_ranks) or (None,) * ens.n_features
        self.n_out = ens.n_outputs
        self.classifier = ens.task is Task.CLASSIFICATION
        self.n_proba = 2 if self.classifier and ens.n_outputs == 1 else ens.n_outputs
        self._once: dict[str, Any] = {}

    def with_plan(self, plan: Plan) -> Model:
        """This build's context under ``plan``, sharing its tables and :meth:`once` values:
        for a decision that needs the emitted tables' size (the byte-sum first walk), taken
        after the parts it does not change."""
        other = Model(self.ens, self.target, self.p, plan)
        other.tables, other._once = self.tables, self._once
        return other

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``'s value, computed when an emitter first asks for ``key`` and shared by
        all of them after: a table is declared once, where it is first read."""
        if key not in self._once:
            self._once[key] = make()
        return self._once[key]

    # ----- the plan's answers, under the names the emitters read ------------------------
    precision = property(lambda self: self.plan.numbers.precision)
    in_t = property(lambda self: self.plan.numbers.in_t)
    real_in = property(lambda self: self.plan.numbers.real_in)
    key_t = property(lambda self: self.plan.numbers.key_t)
    nan = property(lambda self: self.plan.numbers.nan)
    base_range = property(lambda self: self.plan.numbers.base_range)
    nan_key = property(lambda self: self.plan.numbers.nan_key)
    raw_dtype = property(lambda self: self.plan.numbers.raw_dtype)
    acc_t = property(lambda self: self.plan.numbers.acc_t)
    row_t = property(lambda self: self.plan.numbers.row_t)
    record_rows = property(lambda self: self.plan.record_rows)
    fixed = property(lambda self: self.plan.fixed)
    quick = property(lambda self: self.plan.quick)
    leaf_sums = property(lambda self: self.plan.leaf_sums)
    float32_sums = property(lambda self: self.plan.float32_sums)
    soft64_candidate = property(lambda self: self.plan.soft64_candidate)
    soft64 = property(lambda self: self.plan.soft64)
    #: tests read features directly (no P_prepare)
    direct = property(lambda self: self.plan.access is FeatureAccess.DIRECT)
    #: the table layout computes a feature's key when a node reads it (no P_prepare)
    lazy = property(lambda self: self.plan.access is FeatureAccess.LAZY)

    def exit_plan(self) -> ExitPlan | None:
        """How predict stops early (exit_checks), or None when it evaluates every tree."""
        return self.plan.exit

    def walk_shared(self) -> bool:
        """See :attr:`Plan.walk_shared`."""
        return self.plan.walk_shared

    # ----- feature values and node tests -------------------------------------------
    def value_range(self, f: int) -> tuple[int, int]:
        rank = self.ranks[f]
        return (0, int(rank.edges.size)) if rank is not None else self.base_range

    def base_threshold(self, op: int, t: float) -> int:
        """K for the unranked value: go left iff value <= K (clamped, NaN aside)."""
        lo, hi = self.base_range
        if self.precision is not None:
            return num.float_threshold_key(op, t, self.precision)
        return int(min(max(num.int_threshold(op, t), lo - 1), hi))

    def test(self, tree, i: int) -> Test:
        f = int(tree.feature[i])
        nan_left = bool(tree.default_left[i])
        if tree.op[i] == _CAT:
            return Test(f, int(tree.cat[i]), True, nan_left)
        t = float(tree.threshold[i])
        op = int(tree.op[i])
        if self.ranks[f] is not None:
            lo, hi = self.value_range(f)
            k = int(min(max(num.int_threshold(op, t), lo - 1), hi))
        else:
            k = self.base_threshold(op, t)
        return Test(f, k, False, nan_left)

    def tests(self, tree) -> list[Test | None]:
        """:meth:`test` of every node (None for leaves): the keys of unranked float
        features come from one numpy step, as per-node scalar work dominates big models."""
        op = tree.op.tolist()
        if self.precision is None or not tree.n_nodes:
            return [None if o == _LEAF else self.test(tree, i) for i, o in enumerate(op)]
        keys = num.float_threshold_keys(tree.op, tree.threshold, self.precision).tolist()
        feature, nan_left, ranks = tree.feature.tolist(), tree.default_left.tolist(), self.ranks
        out: list[Test | None] = []
        for i, o in enumerate(op):
            if o == _LEAF:
                out.append(None)
            elif o == _CAT or ranks[feature[i]] is not None:
                out.append(self.test(tree, i))
            else:
                out.append(Test(feature[i], keys[i], False, nan_left[i]))
        return out

    def folded(self, test: Test) -> bool | None:
        """True/False when a numeric test has the same outcome for every value (and NaN)."""
        if test.cat:
            return None
        lo, hi = self.base_range if self.direct or self.lazy else self.value_range(test.feature)
        if test.k >= hi and (test.nan_left or not self.nan):
            return True
        if test.k < lo and (not test.nan_left or not self.nan):
            return False
        return None

    # ----- categories ----------------------------------------------------------------
    def cat_features(self) -> set[int]:
        out: set[int] = set()
        for t in self.ens.trees:
            out.update(int(f) for f in t.feature[t.op == Op.CAT])
        return out

    def uses_categories(self) -> bool:
        return uses_categories(self.ens)

    def category_expr(self, f: str, value: str, ranked_or_int: bool) -> str:
        if ranked_or_int:
            return f"(int32_t){value}"
        return f"{self.p}_category(features[{f}], {value})"


    # ----- sinks: where a walk hands over a tree's leaf row ---------------------------
    def sink(self, t: str, row: str) -> str:
        """Placeholder for the statement taking tree ``t``'s leaf row ``row``; each function
        built from a layout's walk fills it in (:meth:`fill_sinks`)."""
        return f"{_SINK[0]}{t}{_SINK[1]}{row}{_SINK[2]}"

    @staticmethod
    def fill_sinks(body: str | list[str], statement: Callable[[str, str], str]) -> str:
        """``body`` (a string or pieces of one) with every sink placeholder replaced by
        ``statement(t, row)``."""
        return "".join(Model.sink_pieces(body, statement))

    @staticmethod
    def sink_pieces(body: str | list[str], statement: Callable[[str, str], str]) -> list[str]:
        """:meth:`fill_sinks` as pieces to join: big models' bodies run to megabytes, and
        each whole copy of one costs more than all the sinks' statements (a piece without
        a sink passes through as it is)."""
        out: list[str] = []
        append = out.append
        mark, sep, end = _SINK
        for text in [body] if isinstance(body, str) else body:
            start, find = 0, text.find
            at = find(mark)
            while at >= 0:
                mid = find(sep, at)
                stop = find(end, mid)
                append(text[start:at])
                append(statement(text[at + 1:mid], text[mid + 1:stop]))
                start = stop + 1
                at = find(mark, start)
            append(text[start:])
        return out

    # ----- literals and the link ---------------------------------------------------
    def real(self, x: float) -> str:
        return float_literal(x, self.acc_t)

    def needs_exp(self) -> bool:
        return needs_exp(self.ens)
