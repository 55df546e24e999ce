"""The guard of an inline walk whose tests assume no NaN (:attr:`DirectTest.HALF_NO_NAN`).

Such a test compares the halves of a float's bits as for any other number: +NaN goes
where +inf goes and -NaN where -inf goes, which is wrong at every node sending NaN the
other way. So before the walk, P_plain reads the upper byte of every feature a decision
node reads: when one has the top seven exponent bits set (NaN, an infinity or
``|x| >= 2^127``), the row takes the table walk instead (:mod:`.walk_table`, exact for
every float32 value), which records the leaf rows the sums then read as for any row the
fixed-point sums leave undecided. Every other row (finite values below 2^127 in the
features read) takes the inline walk, whose tests on AVR take about 40% less code than
the exact half-word tests; the guard and the table walk add a few KB.
"""

from __future__ import annotations

from dataclasses import replace

from ...cost import Layout, split_features
from . import features, walk_table
from .model import Model
from .plan import FeatureAccess


def guard_functions(model: Model) -> list[str]:
    """P_plain, the table walk (its helpers and records) and P_nan_rows, which fills the
    leaf rows of a row P_plain does not clear from that walk."""
    p, ens = model.p, model.ens
    table = model.with_plan(replace(model.plan, layout=Layout.TABLE, access=FeatureAccess.LAZY, direct_test=None,
                                    leaf_sums=False, quick=None, pack_tables=False))
    walk = walk_table.walk_body(table)
    rows = model.fill_sinks(walk.body, lambda t, row: f"rows[{t}] = {row};")
    # every decision node's feature: a folded test too may send NaN the other way
    cells = [f"(b[{4 * f + 3}u] & 0x7Fu) == 0x7Fu" for f in split_features(ens).tolist()]
    test = " ||\n        ".join(cells) if cells else "0"
    plain = (
        "/* 1 when no feature the walk reads can be NaN: none has the top seven exponent bits\n"
        " * set (NaN, an infinity or |x| >= 2^127, which P_nan_rows sends to the table walk). */\n"
        f"static inline uint8_t {p}_plain(const {model.in_t} *features)\n{{\n"
        "    const unsigned char *b = (const unsigned char *)features;\n"
        f"    return !({test});\n}}"
    )
    nan_rows = (
        "/* The leaf rows of a row P_plain does not clear, from the table walk (exact for NaN);\n"
        " * out of line, so that the walk calling it keeps its registers. */\n"
        f"static {p.upper()}_NOINLINE void {p}_nan_rows(const {model.in_t} *features, {model.row_t} *rows)\n{{\n"
        f"{rows}\n}}"
    )
    return [*features.helpers(table), *walk.decls, plain, nan_rows]


def rows_guard(model: Model) -> str:
    """The first statement of P_rows: a row P_plain does not clear leaves undecided (-1)
    with the table walk's rows, which its caller sums as any row the fixed-point sums
    leave."""
    p = model.p
    return f"    if (!{p}_plain(features)) {{\n        {p}_nan_rows(features, rows);\n        return -1;\n    }}\n"


def quick_guard(model: Model) -> str:
    """The first statement of the byte-sum first walk: undecided when P_plain does not
    clear the row (P_rows then takes it)."""
    return f"    if (!{model.p}_plain(features)) {{\n        return -1;\n    }}\n"
