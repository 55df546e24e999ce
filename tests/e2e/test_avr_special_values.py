"""AVR -O2 forests decide every float32 special value as the interpreter does (simavr).

The -O2 inline build has two walks: a first walk on byte sums and P_rows, which records
leaf rows. Their node tests compare the upper 16 bits of a float and read the lower half,
the sign and NaN's bit patterns only where they can matter; P_rows may instead compare
int16 keys computed once per row (half_keys: rounded up where a feature's thresholds are
multiples of 2^16 as keys, down where they end in 0xFFFF). Rows here put, into data rows,
the values those shortcuts could get wrong: +-0, subnormals, +-inf, NaN of both signs
(the negative "default NaN" 0xFFC00000 that AVR float code produces, and payloads), the
largest finite values (upper byte 0x7F / 0xFF, next to NaN's), and every threshold of the
feature with its float32 neighbours. Forests: digits (positive x.5 thresholds), one
trained on signed integers with NaN (negative thresholds, nodes sending NaN left and
right) and the same with ``x < t`` splits (keys rounded down), each as six build points
(the third adds byte sums in its one walk, which records the rows; the last three compare
NaN-free halves behind the NaN guard, which sends every row holding a NaN, an infinity or
a value of 2^127 or more to the table walk; the last mixed rows hold none of those, so +-0,
subnormals, the other large values and every threshold neighbour reach the NaN-free walk).
"""

from __future__ import annotations

import numpy as np
import pytest

import emlc
from emlc.backends.c import emit_c
from emlc.cost import Layout, Point
from emlc.ir.ensemble import Ensemble, Op, Tree
from tests.backends.c.test_emit import expected
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, run_parallel

SPECIAL_BITS = (0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x7F800000,
                0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0xFFFFFFFF, 0x7FFFFFFF,
                0x7F7FFFFF, 0xFF7FFFFF, 0x7F000000, 0xFF000000, 0x3F800000, 0xBF800000)
SPECIAL = np.array(SPECIAL_BITS, dtype=np.uint32).view(np.float32)


def _neighbours(ens: Ensemble, f: int) -> np.ndarray:
    """Feature ``f``'s thresholds as float32 and the float32 numbers either side."""
    thr = np.concatenate([t.threshold[(t.feature == f) & np.isin(t.op, (Op.LE, Op.LT))] for t in ens.trees])
    f32 = thr[np.isfinite(thr)].astype(np.float32)
    big = np.float32(np.inf)
    return np.concatenate([f32, np.nextafter(f32, big), np.nextafter(f32, -big)])


def _rows(ens: Ensemble, base: np.ndarray, seed: int, n: int = 60) -> np.ndarray:
    """Each special value in every feature at once, then ``n`` rows of ``base`` with a
    third of their cells special values or threshold neighbours, and ``n // 2`` more
    whose cells are none the NaN guard stops (no NaN, infinity or value of 2^127 or more:
    with many features nearly every row of the first kind holds one)."""
    rng = np.random.default_rng(seed)
    pools = [np.concatenate([SPECIAL, _neighbours(ens, f)]) for f in range(ens.n_features)]
    cleared = [pool[(pool.view(np.uint32) >> 24 & 0x7F) != 0x7F] for pool in pools]
    uniform = np.repeat(SPECIAL[:, None], ens.n_features, axis=1)
    out = [uniform]
    for choice, count in ((pools, n), (cleared, n // 2)):
        mixed = base[rng.integers(0, base.shape[0], count)].astype(np.float32)
        for row in mixed:
            cells = rng.random(ens.n_features) < 1 / 3
            row[cells] = [choice[f][rng.integers(choice[f].size)] for f in np.flatnonzero(cells)]
        out.append(mixed)
    return np.vstack(out)


def _digits(trees: int, depth: int):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_digits(return_X_y=True)
    return RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=0).fit(X, y), X


def _signed_with_nan():
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(600, 6)) * [8, 20, 3, 40, 8, 2])
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] < -10)
    X[rng.random(X.shape) < 0.1] = np.nan
    return RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, y), np.nan_to_num(X)


def _strict(ens: Ensemble) -> Ensemble:
    """``ens`` with every ``x <= t`` split made ``x < t``."""
    def strict(t: Tree) -> Tree:
        op = np.where(t.op == Op.LE, Op.LT, t.op)
        return Tree.build(op=op, feature=t.feature, threshold=t.threshold, left=t.left, right=t.right, leaf=t.leaf,
                          default_left=t.default_left)
    return ens.replace(trees=tuple(strict(t) for t in ens.trees))


QUICK = Point(Layout.INLINE, quick=True, leaf_sums=True)
KEYED = Point(Layout.INLINE, quick=True, leaf_sums=True, keyed=True)
BYTES = Point(Layout.INLINE, leaf_sums=True, byte_sums=True)  # one walk: byte sums and rows
QUICK_GUARDED = Point(Layout.INLINE, quick=True, leaf_sums=True, guarded=True)  # a guard before each walk
SUMS_GUARDED = Point(Layout.INLINE, leaf_sums=True, guarded=True)
BYTES_GUARDED = Point(Layout.INLINE, leaf_sums=True, byte_sums=True, guarded=True)
#: the table walk behind inline heads (walk_head): of three levels, of six (the deep
#: forest's: branches past a conditional branch's reach), and of one level and the five
#: tests below it rows reach most often (trees' heads of different depths)
HEADS = (Point(Layout.TABLE, head=3), Point(Layout.TABLE, head=6), Point(Layout.TABLE, head=1, head_more=5))


def _o2(ens: Ensemble, target: str) -> tuple[Ensemble, str]:
    res = emlc.compile(ens, target=target, level="O2", emit_as="ir")
    assert res.layout == "inline"
    return res.ensemble, res.layout


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_avr_o2_walks_decide_special_values_as_the_interpreter():
    require_tool(*TOOLS["avr"])
    digits, digits_x = _digits(6, 5)
    signed, signed_x = _signed_with_nan()
    loaded = emlc.load(signed)
    nodes = [(t.threshold[t.op == Op.LE], t.default_left[t.op == Op.LE]) for t in loaded.trees]
    assert any((thr < 0).any() for thr, _ in nodes)
    assert any(dl.any() for _, dl in nodes) and any((~dl).any() for _, dl in nodes)
    jobs = []
    for seed, (ens, X) in enumerate(((emlc.load(digits), digits_x), (loaded, signed_x), (_strict(loaded), signed_x))):
        opt, layout = _o2(ens, "avr")
        rows = _rows(ens, X, seed)
        for point in (QUICK, KEYED, BYTES, QUICK_GUARDED, SUMS_GUARDED, BYTES_GUARDED):
            code = emit_c(opt, "avr", "model", layout, point=point)
            assert ("model_quick(" in code) == point.quick and "MODEL_HI(" in code
            assert ("model_halves(" in code) == point.keyed
            assert ("model_nan_rows(" in code) == point.guarded
            jobs.append((opt, rows, "avr", layout, {"point": point}))
    for job, got in zip(jobs, run_parallel(jobs, workers=2)):
        ens, X = job[0], job[1]
        pred, values = expected(ens, X)
        np.testing.assert_array_equal(got.predict, pred)
        np.testing.assert_allclose(got.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)


def _wide_signed():
    """70 signed features with NaN: feature offsets past a byte (two-byte records)."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(5)
    X = np.round(rng.normal(size=(400, 70)) * 6, 1)
    y = (X[:, 0] - X[:, 66] + X[:, 3] * 0.5 > 0).astype(int)
    X[rng.random(X.shape) < 0.05] = np.nan
    return RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X, y), np.nan_to_num(X)


def _deep_signed():
    """Unbounded depth: left subtrees past 255 bytes (two-byte steps, the C walk alone)."""
    from sklearn.ensemble import RandomForestClassifier

    clf, X = _signed_with_nan()
    return RandomForestClassifier(n_estimators=3, random_state=0).fit(X, clf.predict(X) ^ (X[:, 4] > 3)), X


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_avr_o2_table_walk_decides_special_values_as_the_interpreter():
    """The -O2 table layout (walk_halves' records): the assembly skip over the nodes the
    upper halves decide, the C step for ties (threshold neighbours) and every other value
    (negative, huge, infinite, NaN), with and without thresholds' lower halves (``x < t``
    splits have them), one- and two-byte steps and feature fields; the leaf records' sums
    added in assembly (leaf_add), with the exact exit on three of the forests; each also
    behind inline heads (walk_head), which stop at every value and tie the walk's fast step
    does not take."""
    require_tool(*TOOLS["avr"])
    digits, digits_x = _digits(6, 5)
    signed, signed_x = _signed_with_nan()
    loaded = emlc.load(signed)
    wide, wide_x = _wide_signed()
    deep, deep_x = _deep_signed()
    # (forest, rows, assembly skip, records carry kl, two-byte feature field)
    cases = [(emlc.load(digits), digits_x, True, False, False), (loaded, signed_x, True, False, False),
             (_strict(loaded), signed_x, True, True, False), (emlc.load(wide), wide_x, False, True, True),
             (emlc.load(deep), deep_x, False, False, False)]
    jobs = []
    far = set()
    for seed, (ens, X, skip, low, wide_fb) in enumerate(cases):
        opt = emlc.compile(ens, target="avr", level="O2", emit_as="ir").ensemble
        code = emit_c(opt, "avr", "model", "table")
        assert "model_nodes" in code and ("model_skip(" in code) == skip and "model_qadd_asm(" in code
        assert ("model_peek16(r)" in code) == low and ("model_next16(&r);\n    const" in code) == wide_fb
        rows = _rows(ens, X, seed)
        jobs.append((opt, rows, "avr", "table"))
        for head in HEADS:  # the walk from the record an inline head stops at
            code = emit_c(opt, "avr", "model", "table", point=head)
            assert "model_head(&go, features)" in code
            far.update(form for form in ('"brlo .+2\\n\\t"\n        "ret', '"breq .+2\\n\\t"\n        "rjmp') if form in code)
            jobs.append((opt, rows, "avr", "table", {"point": head}))
    assert len(far) == 2  # bails and right children past a branch's reach
    for job, got in zip(jobs, run_parallel(jobs, workers=2)):
        ens, X = job[0], job[1]
        pred, values = expected(ens, X)
        np.testing.assert_array_equal(got.predict, pred)
        np.testing.assert_allclose(got.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)
