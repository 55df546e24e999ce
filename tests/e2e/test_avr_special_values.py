"""AVR -O2 forests decide every float32 special value as the interpreter does (simavr).

The -O2 inline build has two walks whose node tests compare the upper 16 bits of a float
and read the lower half, the sign and the NaN patterns only where they can matter: a
first walk on byte sums and the walk recording leaf rows. Rows here put, into real data
rows, the values those shortcuts could get wrong: +-0, subnormals, +-inf, NaN of both
signs (the negative "default NaN" 0xFFC00000 that AVR float code produces, and payloads),
the largest finite values (upper byte 0x7F / 0xFF, next to NaN's), and every threshold
of the feature with its float32 neighbours. Two forests: digits-like (integer pixels,
positive x.5 thresholds) and one trained with negatives and NaN, so that it has negative
thresholds and nodes sending NaN left as well as right.
"""

from __future__ import annotations

import numpy as np
import pytest

import emlc
from emlc.ir.ensemble import Ensemble, Op
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


def _rows(ens: Ensemble, base: np.ndarray, seed: int) -> np.ndarray:
    """Rows of ``base`` with cells replaced: each special value in every feature at once,
    then rows with a third of their cells special values or threshold neighbours."""
    rng = np.random.default_rng(seed)
    pools = [np.concatenate([SPECIAL, _neighbours(ens, f)]) for f in range(ens.n_features)]
    uniform = np.repeat(SPECIAL[:, None], ens.n_features, axis=1)
    mixed = base[rng.integers(0, base.shape[0], 60)].astype(np.float32)
    for row in mixed:
        cells = rng.random(ens.n_features) < 1 / 3
        row[cells] = [pools[f][rng.integers(pools[f].size)] for f in np.flatnonzero(cells)]
    return np.vstack([uniform, mixed])


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_digits(return_X_y=True)
    return RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, y), X


def _signed_with_nan():
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 6)) * [1, 2, 0.5, 4, 1, 1e-3]
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] < -1)
    X[rng.random(X.shape) < 0.1] = np.nan
    return RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, y), np.nan_to_num(X)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_avr_o2_walks_decide_special_values_as_the_interpreter():
    require_tool(*TOOLS["avr"])
    jobs = []
    for seed, (model, X) in enumerate((_digits(), _signed_with_nan())):
        res = emlc.compile(model, target="avr", level="O2", emit_as="ir")
        ens = res.ensemble
        code = emlc.compile(model, target="avr", level="O2").code
        assert res.layout == "inline" and "_quick(" in code and "MODEL_HI(" in code.upper()
        jobs.append((ens, _rows(emlc.load(model), X, seed), "avr", res.layout))
    signed = emlc.load(_signed_with_nan()[0])
    nodes = [(t.threshold[t.op == Op.LE], t.default_left[t.op == Op.LE]) for t in signed.trees]
    assert any((thr < 0).any() for thr, _ in nodes) and any(dl.any() for _, dl in nodes)
    assert any((~dl).any() for _, dl in nodes)
    for (ens, X, _, _), got in zip(jobs, run_parallel(jobs, workers=2)):
        pred, values = expected(ens, X)
        np.testing.assert_array_equal(got.predict, pred)
        np.testing.assert_allclose(got.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)
