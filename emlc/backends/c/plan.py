"""The numeric plan of one C build: every decision the emitters share, made once.

Types, threshold keys, how node tests read a feature, how sums accumulate (float,
fixed-point, binary64 near-ties), the early exit and the walk layout are decided here,
before any code is written, and frozen: each emitter reads the plan and none changes it.
The rules stay in the modules that own them (``numeric``, ``fixed``, ``exit_checks``,
``soft64``); this module only asks them in order, since later answers depend on earlier
ones (the exit plan on the sums, the binary64 step on the exit plan).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from ...cost import (Head, Layout, Point, choose_layout, exact_exit_interval, half_first_bytes, half_word_table,
                     inline_head)
from ...errors import EmlcError
from ...ir.ensemble import Aggregation, Ensemble, Op
from ...targets import Target
from . import exit_checks, fixed, half_keys, leaf_records, soft64
from . import numeric as num
from .common import C_INT, int_range, size_of, smallest_int
from .exit_checks import ExitMode, ExitPlan
from .fixed import FixedPlan
from .leaf_records import LeafRecords


class FeatureAccess(Enum):
    """How node tests read a feature."""

    PREPARED = "prepared"  # P_prepare turns every feature into an integer key in v[] first
    DIRECT = "direct"      # inline tests read the feature itself (its bits, or the integer)
    LAZY = "lazy"          # the table walk keys a feature when a node reads it


class DirectTest(Enum):
    """What a direct test compares (:attr:`FeatureAccess.DIRECT`)."""

    INTEGER = "integer"  # integer inputs as they are
    BITS = "bits"        # a float's bits as a signed integer
    FLOAT = "float"      # a float32 compared as a float, in the FPU (Target.fpu_tests)
    HALF = "half"        # the upper 16 bits of a float32's bits, the lower ones on a tie
    HALF_KEYS = "half keys"  # HALF, but features half_keys allows compare their int16 key hk[f]
    #: HALF for rows without NaN: the upper halves, the lower on a tie, no sign or NaN
    #: patterns; a guard sends rows that may hold a NaN to the table walk (nan_guard)
    HALF_NO_NAN = "half, no NaN"


class Encoding(Enum):
    """A table record encoding :func:`.walk_table.encode` may pick: leaf and jump records,
    decision records only, and those packed in one word with a slot and key index or a
    global key index."""

    RECORDS = "records"
    COUNTED = "counted"
    PACKED = "packed"
    PACKED_GLOBAL = "packed_global"


@dataclass(frozen=True)
class TableForcing:
    """The table layout held to a choice it would otherwise make by size, so that tests
    can check each one: ``encodings`` the only ones it may pick (None: all; the smallest
    wins), ``split_top`` keys without their top byte forced on where possible or off
    (None: where that saves more than its lookup's code, at -Os)."""

    encodings: frozenset[Encoding] | None = None
    split_top: bool | None = None

    def allows(self, encoding: Encoding) -> bool:
        return self.encodings is None or encoding in self.encodings


@dataclass(frozen=True)
class Numbers:
    """The C types of one build and the integer keys its tests compare."""

    precision: str | None    # "float32"/"float64" for float inputs (keys of that width), None for integers
    in_t: str                # C type of features[]
    real_in: str | None      # the float type whose bits float keys are (None: integer inputs)
    key_t: str               # C type of a feature's key or integer value
    nan: bool                # inputs can be NaN
    base_range: tuple[int, int]  # keys an unranked feature can take (NaN aside)
    nan_key: int             # the key of NaN (below every other key)
    raw_dtype: str           # numpy dtype of the library's raw sums ("float64"/"float32")
    acc_t: str               # C type of raw[]: the float sums
    sums_t: str              # C type P_add adds into (integer leaves and votes count in integers)
    row_t: str               # C type of a leaf-row index

    @property
    def sums_in(self) -> str:
        """The array P_add adds into: ``raw`` itself, or ``acc`` when the sums are integers."""
        return "raw" if self.sums_t == self.acc_t else "acc"


@dataclass(frozen=True)
class Plan:
    """Everything the emitters of one build share; see the module docstring."""

    layout: Layout
    access: FeatureAccess
    direct_test: DirectTest | None
    numbers: Numbers
    #: predict records each tree's leaf row (P_rows), then sums: fixed point first, float after
    record_rows: bool
    #: the integer sums that decide most rows exactly (None: float sums only)
    fixed: FixedPlan | None
    #: inline trees add fixed-point values to locals q0, q1, ... at their leaves (AVR)
    leaf_sums: bool
    #: byte sums of a first walk that decides most rows without recording any
    quick: FixedPlan | None
    exit: ExitPlan | None
    #: could predict decide float64 near-ties in binary64 integer arithmetic?
    soft64_candidate: bool
    #: the build opted out of exact float64 sums on a target without a 64-bit double (lossy)
    float32_sums: bool
    #: size comes first (-Os): the table layout may pack its records (walk_table._pack),
    #: smaller but slower to unpack
    pack_tables: bool = False
    #: P_rows, which runs only when P_quick cannot decide, compares the int16 keys that
    #: P_halves computes once per row where a feature's thresholds allow (half_keys):
    #: a third of P_rows' flash for about 3,000 cycles on the rows that reach it
    keyed_rows: bool = False
    #: leaf rows as byte records (table builds whose leaves are counts: -Os, and the speed
    #: levels where the target adds them fast): a walk records where its leaf's record
    #: starts, and the fast sums compute their values
    records: LeafRecords | None = None
    #: the nodes of each tree the half-word table walk's inline head tests before the walk
    #: takes over (walk_head; None: no head)
    head: Head | None = None
    #: the table layout's encoding choices held fixed (tests; the default forces none)
    forcing: TableForcing = TableForcing()
    #: each tree adds its leaf to soft-float sums (:attr:`~emlc.cost.Point.float_adds`)
    float_adds: bool = False

    @property
    def guarded(self) -> bool:
        """Do the inline tests assume no NaN (:attr:`DirectTest.HALF_NO_NAN`), a guard
        sending the rows that may hold one to the table walk (:mod:`.nan_guard`)?"""
        return self.direct_test is DirectTest.HALF_NO_NAN

    @property
    def walk_shared(self) -> bool:
        """Do predict and predict_proba share one walk, P_run(features, raw, stop)? Yes when
        the early-exit check reads float or integer sums built during the walk: the walk is
        then emitted once (half the code of big models) and only P_classify stops early."""
        return self.exit is not None and self.exit.sums != "q"

    @property
    def soft64(self) -> bool:
        """Does predict decide float64 near-ties in binary64 (needs P_sum, which a walk
        shared with a float-sum early exit does not have)? With sums in a software double
        (:attr:`.Target.double_fpu`), only straight after the fixed-point sums."""
        return self.soft64_candidate and not self.walk_shared and (self.numbers.acc_t == "float" or self._fixed_first)

    @property
    def _fixed_first(self) -> bool:
        """Do inexact fixed-point sums decide predict's rows first, with no early exit?"""
        return self.fixed is not None and not self.fixed.exact and self.exit is None

    @property
    def soft_after_fixed(self) -> bool:
        """Does predict go from the fixed-point sums straight to the binary64 step, without
        the float tier (P_proven) between them? Where size comes first (``pack_tables``):
        the fixed-point sums leave few rows undecided (digits forests: under 1%), predict
        then links no float arithmetic (AVR: libgcc's float divide, add and conversion),
        and P_fast hands its sums on (P_fast(rows, q), P_exact(rows, q)) so that the
        binary64 step sums only the outputs they leave in the running (soft64._live). Where
        the sums are a software double too: the float tier would be libgcc's double."""
        return self.soft64 and self._fixed_first and (self.pack_tables or self.numbers.acc_t == "double")

    @property
    def keyed(self) -> bool:
        """Are features keyed into v[] before the walk (P_prepare)?"""
        return self.access is FeatureAccess.PREPARED


def pick_layout(ens: Ensemble, target: Target, layout: Layout | str | None) -> Layout:
    """The layout asked for, or the one the cost model picks at the speed levels."""
    if layout is None:
        return choose_layout(ens, target, "O2")
    try:
        return Layout(layout)
    except ValueError:
        raise EmlcError(f"unknown C layout {layout!r}; use one of: {', '.join(v.value for v in Layout)}") from None


def numbers(ens: Ensemble, target: Target) -> Numbers:
    """The C types of ``ens`` on ``target``; float64 inputs need a 64-bit double."""
    inp = ens.input_type
    if inp == "float64" and not target.has_double:
        raise EmlcError(
            f"this model compares float64 features and {target.name}'s double is {target.double_bits}-bit; "
            "declare float32 inputs (--input float32, exact for every float32 feature value)"
        )
    if inp.startswith("float"):
        precision = "float64" if inp == "float64" else "float32"
        in_t = real_in = "double" if precision == "float64" else "float"
        key_t = "int64_t" if precision == "float64" else "int32_t"
        limit = num.key_limit(precision)
        nan, base_range = True, (-limit, limit)
    else:
        precision, in_t, real_in = None, C_INT[inp], None
        # int32 inputs need room for the "never" threshold INT32_MIN - 1
        key_t = "int64_t" if inp == "int32" else "int32_t"
        nan, base_range = False, int_range(C_INT[inp])
    raw_is_double = ens.aggregation is Aggregation.VOTE or ens.accum_dtype == "float64"
    acc_t = "double" if raw_is_double and target.has_double else "float"
    return Numbers(
        precision=precision, in_t=in_t, real_in=real_in, key_t=key_t, nan=nan, base_range=base_range,
        nan_key=int_range(key_t)[0], raw_dtype="float64" if raw_is_double else "float32", acc_t=acc_t,
        sums_t=_sums_type(ens, acc_t, target), row_t=smallest_int(0, ens.leaves.shape[0] - 1, signed=False),
    )


def _sums_type(ens: Ensemble, acc_t: str, target: Target) -> str:
    """What P_add adds into: vote counts, integer leaf sums (wide enough for every tree and
    the base score in table units, where an exact fixed-point plan starts them; 16 bits
    where they fit on 8- and 16-bit cores) or raw."""
    if ens.aggregation is Aggregation.VOTE:
        return smallest_int(0, ens.n_trees, signed=False)
    leaves = ens.leaves
    if leaves.dtype.kind in "iu":
        bound = int(np.abs(leaves.astype(np.int64)).max()) * ens.n_trees
        scale = np.abs(np.ones(1) if ens.leaf_scale is None else np.asarray(ens.leaf_scale, np.float64))
        if scale.min() > 0:
            bound += math.ceil(float(np.abs(np.asarray(ens.base_score, np.float64)).max() / scale.min()))
        return "int16_t" if bound < 2**15 and target.word_bits < 32 else "int32_t" if bound < 2**31 else "int64_t"
    return acc_t


def uses_categories(ens: Ensemble) -> bool:
    return ens.n_trees > 0 and bool((ens.column("op") == Op.CAT).any())


def direct_test(ens: Ensemble, target: Target, nums: Numbers) -> DirectTest | None:
    """How every test can read the feature itself (a float's bits or the integer) without
    P_prepare, or None when some cannot (categories, floats on targets that key them)."""
    if uses_categories(ens):
        return None
    if nums.precision is None:
        return DirectTest.INTEGER
    if not target.direct_float_tests or nums.in_t != nums.real_in:
        return None
    if nums.precision == "float32" and target.half_word_tests:
        return DirectTest.HALF
    return DirectTest.FLOAT if nums.precision == "float32" and target.fpu_tests else DirectTest.BITS


def records_rows(ens: Ensemble, target: Target, nums: Numbers) -> bool:
    """Does predict record each tree's leaf row? When the rows fit a small stack share."""
    rows_bytes = ens.n_trees * size_of(nums.row_t)
    return ens.n_trees > 0 and rows_bytes <= min(512, (target.ram_bytes or 1 << 20) // 16)


def make_plan(ens: Ensemble, target: Target, layout: Layout | str | None = None,
              float32_sums: bool = False, quick: bool = False, pack_tables: bool = False,
              leaf_sums: bool | None = None, keyed_rows: bool = False, byte_sums: bool = False,
              guarded: bool = False, stored_records: bool = False, head: int = 0, head_more: int = 0) -> Plan:
    """The plan of ``ens`` on ``target``. ``quick``: give an 8-bit target's leaf-sum walk
    a first pass on byte sums when one can decide most rows (the caller checks it fits);
    ``pack_tables``: let the table layout pack its records (-Os); ``leaf_sums``: let the
    inline walk's leaves add their values where the target can (else they only record
    their rows, and the sums come from the leaf table; None: where that is the target's
    default, :attr:`.Target.leaf_sums_inline`); ``keyed_rows``: P_rows, behind
    that first pass, compares int16 keys (:attr:`Plan.keyed_rows`); ``byte_sums``: the one
    walk recording rows adds the first pass's byte sums (no second walk: the rows they
    leave undecided are summed from the leaf table); ``guarded``: the inline tests assume
    no NaN behind a guard (:attr:`Plan.guarded`; with half-word tests and leaf sums that are
    not exact, whose predict has no float sums for the rows the guard stops, without an early
    exit or int16 keys); ``stored_records``: leaf records of a speed-level table build store
    each entry's fixed-point value rather than a multiplier (:attr:`.LeafRecords.stored`);
    ``head``, ``head_more``: the half-word table walk starts past an inline head of that
    many levels and nodes below them (:attr:`Plan.head`, :func:`~emlc.cost.inline_head`)."""
    chosen = pick_layout(ens, target, layout)
    nums = numbers(ens, target)
    record = records_rows(ens, target, nums)
    direct = direct_test(ens, target, nums) if chosen is Layout.INLINE else None
    access = (FeatureAccess.LAZY if chosen is Layout.TABLE
              else FeatureAccess.DIRECT if direct is not None else FeatureAccess.PREPARED)
    fx = fixed.plan(ens, target) if record else None
    lossy_exit = ens.early_exit is not None and ens.early_exit.confidence < 1
    # the size-minded layout: byte leaves where they do; not under a lossy exit, whose band
    # check (exit_checks.band_bounds) sends 10-25% of digits rows on to float sums with them
    if fx is not None and chosen is Layout.TABLE and not lossy_exit:
        fx = fixed.plan(ens, target, byte_leaves=True)
    # leaf records: -Os table builds, and the speed levels' where the target adds them fast;
    # a lossy exit's checks read the sparse tables (exit_checks.fine_function), an exact one
    # takes its bounds from the records' values (made before it)
    records = None
    if chosen is Layout.TABLE and record and not lossy_exit and (pack_tables or target.fast_leaf_records):
        records, fx, nums = _records(ens, target, nums, fx, pack_tables, stored_records and not pack_tables)
    able = target.leaf_sums_inline if leaf_sums is None else leaf_sums and (
        target.leaf_sums_inline or target.leaf_sums_speed)
    leaf_sums = able and access is FeatureAccess.DIRECT and fx is not None
    candidate = soft64.applies(ens, target, nums, record, float32_sums)
    # the band check's binary64 step runs inside the walk, a frame deeper than predict's own
    # binary64 step: on the 8051 (223 B of stack) s51 runs stopped there, so it keeps approx
    banded = target.compiler != "sdcc"
    exact_exit = ens.early_exit is not None and ens.early_exit.confidence >= 1
    inline = inline_head(ens, head, head_more) if chosen is Layout.TABLE and not pack_tables and half_word_table(
        ens, target) else None
    inline = inline if inline is not None and inline.size else None
    exits = exit_checks.plan(ens, nums, fx, candidate, leaf_sums, chosen is Layout.TABLE, banded)
    # boosting's float leaves on 8-bit cores without fixed-point sums: a soft-float add a tree
    float_adds = (target.word_bits == 8 and ens.aggregation is Aggregation.SUM and fx is None and records is None
                  and nums.sums_t in ("float", "double"))
    if exact_exit and exits is not None:  # the checks it can make, spaced out where they cost trees
        walk = Point(chosen, packed=pack_tables, stored=records is not None and records.stored,
                     head=inline.levels if inline else 0, head_more=inline.more if inline else 0,
                     float_adds=float_adds)
        interval = exact_exit_interval(ens, target, walk, exits.checkpoints, not exits.check_t.startswith("int"))
        exits = exit_checks.plan(ens, nums, fx, candidate, leaf_sums, chosen is Layout.TABLE, banded, interval) \
            if interval else None
    # byte sums can decide most rows where the leaf sums are not exact already
    bytes_help = leaf_sums and exits is None and fx is not None and not fx.exact
    if byte_sums and bytes_help:
        fx = fixed.quick_plan(ens, target) or fx
    quick_fx = fixed.quick_plan(ens, target) if quick and bytes_help else None
    keyed = keyed_rows and quick_fx is not None and direct is DirectTest.HALF and bool(half_keys.half_keys(ens))
    # bytes_help: predict has float sums for the rows the guard stops, and no early exit
    if guarded and direct is DirectTest.HALF and bytes_help and not keyed:
        direct = DirectTest.HALF_NO_NAN
    return Plan(layout=chosen, access=access, direct_test=direct, numbers=nums, record_rows=record, fixed=fx,
                leaf_sums=leaf_sums, quick=quick_fx, exit=exits, soft64_candidate=candidate,
                float32_sums=float32_sums, pack_tables=pack_tables, keyed_rows=keyed, records=records,
                head=inline, float_adds=float_adds)


def _records(ens: Ensemble, target: Target, nums: Numbers, fx: FixedPlan | None, packed: bool,
             stored: bool = False) -> tuple[LeafRecords | None, FixedPlan | None, Numbers]:
    """Leaf records for a table build, the fixed-point plan over their values and the
    types that record them, when the leaves are counts or integer bytes and the records
    are smaller (and the wider recorded rows still fit the stack, and the last record's
    start the half-word records' leaf field (speed levels, ``packed`` False) as the cost
    model sizes it from the rows: a wider field costs every record a byte and the walk its
    assembly); else (None, ``fx``, ``nums``). ``stored``: records storing the fixed-point
    values where they fit a byte (else multipliers)."""
    found = leaf_records.eligible(ens, nums.raw_dtype)
    if found is None:
        return None, fx, nums
    values, counts = found
    # counts under a fixed-point plan get multipliers; integer leaves are their own
    # fixed-point values (their exact plan adds the table as it is)
    aim = fx is not None and not fx.exact
    if aim and not counts:
        return None, fx, nums
    want, scale = (fx.leaves, fx.scale) if aim else (None, None)
    rec = ((leaf_records.encode(values, want, scale, counts, stored=True) if stored and aim else None)
           or leaf_records.encode(values, want, scale, counts))
    if rec is None or not leaf_records.pays(ens, rec, values):
        return None, fx, nums
    if not packed and half_word_table(ens, target) and half_first_bytes(
            ens.n_features, leaf_records.largest_ref(rec, ens)) != half_first_bytes(
            ens.n_features, leaf_records.largest_ref(None, ens)):
        return None, fx, nums
    wide = replace(nums, row_t=rec.offset_t)
    got = fx if fx is None or rec.fast is None else fixed.derived(ens, fx, rec.fast)
    if (fx is not None and got is None) or not records_rows(ens, target, wide):
        return None, fx, nums
    return rec, got, wide


def lossy_exit_note(ens: Ensemble, target: Target, layout: Layout | str | None) -> str | None:
    """Why the C build of ``ens`` on ``target`` is better off without its lossy early exit,
    or None when the exit pays. An inline walk with leaf sums (AVR) keeps the class sums
    in registers; a check has to find the leading two and, near its bounds, store them and
    call out, which costs more than the trees it skips: digits 10x6 on AVR, -O2
    ``--early-exit 0.5`` (5.5 of 10 trees on average): 1,362 cycles per prediction against
    1,061 for the build without it, whose byte-sum first walk decides 97% of rows. A lossy
    exit changes classes, so it is left out of the IR (the interpreter then agrees) rather
    than out of the C code; see :func:`emlc.passes.lossy.apply.add_exit`. So is an exit whose
    exact check's tables (:mod:`.exit_checks`' band check) would not fit the flash, and one
    that would take a table build's leaf records away where the target adds them fast
    (AVR): the band check reads the sparse leaf tables, whose adds are slower (digits
    20x5 on the ATmega2560, table: 7,513 cycles with the exit, 7,499 with records and no
    lossy exit, 3 KB less flash)."""
    ee = ens.early_exit
    if ee is None or ee.confidence >= 1:
        return None
    plan = make_plan(ens, target, layout)
    if plan.exit is None:
        return None
    if plan.leaf_sums:
        return (f"early exit left out: on {target.name} the {plan.layout.value} walk keeps its class sums in "
                "registers, where its checks cost more than the trees they skip (the build keeps only the "
                "level's exact exit, if any)")
    from .emit import flash_estimate  # emit builds on this module

    limit = target.flash_bytes
    if plan.exit.mode is ExitMode.BAND and limit is not None:  # only a band check brings big tables
        if flash_estimate(ens, target, plan.layout) > limit >= flash_estimate(ens.replace(early_exit=None), target,
                                                                              plan.layout):
            return (f"early exit left out: the tables of its exact check would not fit {target.name}'s "
                    f"{limit} bytes of flash (the build keeps only the level's exact exit, if any)")
    if target.fast_leaf_records and plan.records is None and make_plan(
            ens.replace(early_exit=None), target, layout).records is not None:
        return (f"early exit left out: its check reads the sparse leaf tables, and on {target.name} the "
                f"{plan.layout.value} walk adds leaf records faster in less flash (the build keeps only the "
                "level's exact exit, if any)")
    return None
