"""Float32 device builds of float64-comparing LightGBM models, run on the devices.

A microcontroller build declares float32 inputs; narrowed thresholds must send every
float32 value the way LightGBM's float64 comparison does. The rows are float32 numbers
at and around each threshold (the float32 grid points next to it), NaN, the zero band
and categorical codes above 31 and 600 (bitset words with bit 31 set), negative and
fractional ones; each device's prediction must equal LightGBM's ``predict``.
"""

from __future__ import annotations

import numpy as np
import pytest

import emlc
from emlc.ir.ensemble import Op
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, run_parallel

ZERO = np.float32(1e-35)
CODES = [-1.0, -0.5, 0.0, 0.5, 31.0, 31.5, 32.0, 63.0, 95.0, 600.0, 600.5, 650.0, 699.0, 700.0, np.nan]


def _model():
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(2000, 2)), rng.integers(0, 700, 2000)])
    X[rng.random(2000) < 0.1, 0] = np.nan
    X[rng.random(2000) < 0.2, 1] = 0.0
    y = (X[:, 1] + np.where(X[:, 2] % 5 < 2, 1.0, -1.0) + np.nan_to_num(X[:, 0]) > 0).astype(int)
    params = dict(n_estimators=8, num_leaves=8, min_child_samples=5, max_cat_to_onehot=2, min_data_per_group=5,
                  cat_smooth=1.0, max_cat_threshold=256, verbose=-1)
    return lgb.LGBMClassifier(**params).fit(X, y, categorical_feature=[2])


def _float32_rows(ens, n: int = 150) -> np.ndarray:
    pools = []
    for f in range(ens.n_features):
        thr = np.concatenate([t.threshold[(t.feature == f) & np.isin(t.op, (Op.LE, Op.LT))] for t in ens.trees])
        f32 = np.float32(thr[np.isfinite(thr)])
        near = np.concatenate([f32, np.nextafter(f32, np.float32(np.inf)), np.nextafter(f32, np.float32(-np.inf))])
        pools.append(np.r_[near, [np.nan, 0.0, -0.0, ZERO, -ZERO, np.nextafter(ZERO, np.float32(1)), 1e-36]]
                     if f < 2 else np.array(CODES + list(range(0, 700, 9))))
    rng = np.random.default_rng(1)
    X = np.column_stack([p[rng.integers(0, p.size, n)] for p in pools])
    return X.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("target", ["cortex-m0", "avr"])
def test_float32_device_build_equals_lightgbm(target):
    require_tool(*TOOLS[target])
    model = _model()
    text = model.booster_.model_to_string()
    assert any(int(w) >> 31 for ln in text.splitlines() if ln.startswith("cat_threshold=") for w in ln[14:].split())
    X = _float32_rows(emlc.load(model))
    jobs, expected = [], []
    for level in ("O0", "O2"):
        built = emlc.compile(model, target=target, level=level, emit_as="ir")
        assert built.ensemble.input_type == "float32"
        jobs.append((built.ensemble, X, target, built.layout))
        expected.append((built.ensemble, model.predict(X)))
    for (ens, want), got in zip(expected, run_parallel(jobs, workers=2)):
        np.testing.assert_array_equal(np.asarray(ens.classes)[got.predict], want)
