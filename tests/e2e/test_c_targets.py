"""Library models compiled to C and run on every target (host gcc, simavr, QEMU).

Every row's prediction must equal the library's own ``predict``; rows include NaN
and feature values lying exactly on split thresholds.
"""

from __future__ import annotations

import numpy as np
import pytest

import emlc
from emlc.ir.ensemble import Op, Task
from emlc.passes import optimize
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, run_parallel

TARGETS = ["host", "avr", "cortex-m0", "cortex-m4f", "rv32ec"]


def _data(n=160, f=5, classes=3, seed=0, nan=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, f)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 0.8) * (classes - 2)
    if nan:
        X[rng.random(X.shape) < 0.05] = np.nan
    return X, y


def _test_rows(ens, X, n=24, seed=1):
    """Held-out rows, some cells replaced by NaN and by float32 thresholds of the model."""
    rng = np.random.default_rng(seed)
    rows = X[rng.integers(0, len(X), n)].copy()
    thr = [(int(t.feature[i]), float(t.threshold[i])) for t in ens.trees for i in range(t.n_nodes)
           if t.op[i] in (Op.LE, Op.LT) and np.isfinite(t.threshold[i])]
    for r in range(n):
        f, t = thr[rng.integers(len(thr))]
        rows[r, f] = np.float32(t)
    if np.isnan(X).any():
        rows[::7, 1] = np.nan
    return rows


def _models():
    from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                                  HistGradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor)
    import lightgbm
    import xgboost

    Xn, y3 = _data()
    X0 = np.nan_to_num(Xn)
    y2 = (y3 > 0).astype(int)
    yr = X0[:, 0] * 2 + X0[:, 1] ** 2
    return {
        "sk_rf_clf": (RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0).fit(Xn, y3), Xn),
        "sk_gb_clf": (GradientBoostingClassifier(n_estimators=8, max_depth=3, random_state=0).fit(X0, y2), X0),
        "sk_gb_reg": (GradientBoostingRegressor(n_estimators=8, max_depth=3, random_state=0).fit(X0, yr), X0),
        "sk_rf_reg": (RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0).fit(Xn, yr), Xn),
        "sk_hgb_clf": (HistGradientBoostingClassifier(max_iter=6, max_depth=3, random_state=0).fit(Xn, y3), Xn),
        "xgb_bin": (xgboost.XGBClassifier(n_estimators=6, max_depth=3, random_state=0).fit(Xn, y2), Xn),
        "xgb_multi": (xgboost.XGBClassifier(n_estimators=4, max_depth=3, random_state=0).fit(Xn, y3), Xn),
        "lgbm_reg": (lightgbm.LGBMRegressor(n_estimators=6, num_leaves=8, min_child_samples=5, verbose=-1).fit(Xn, yr), Xn),
        "lgbm_clf": (lightgbm.LGBMClassifier(n_estimators=5, num_leaves=6, min_child_samples=5, verbose=-1).fit(Xn, y3), Xn),
    }


@pytest.fixture(scope="module")
def models():
    return _models()


def _check(name, ens, model, rows, result):
    expect = model.predict(rows)
    if ens.task is Task.CLASSIFICATION:
        got = np.asarray(ens.classes)[result.predict]
        np.testing.assert_array_equal(got, expect, err_msg=name)
    else:
        np.testing.assert_allclose(result.predict, expect.astype(np.float32), rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("target", TARGETS)
def test_library_models_on_target(models, target):
    require_tool(*TOOLS[target])
    jobs, meta = [], []
    for i, (name, (model, X)) in enumerate(sorted(models.items())):
        ens = emlc.load(model)
        rows = _test_rows(ens, X)
        layout = ("inline", "table")[i % 2] if target != "host" else None
        for lay in ([layout] if layout else ["inline", "table"]):
            jobs.append((ens, rows, target, lay))
            meta.append((name, ens, model, rows))
    for (name, ens, model, rows), result in zip(meta, run_parallel(jobs, workers=2)):
        _check(name, ens, model, rows, result)


@pytest.mark.parametrize("target", ["avr", "cortex-m0", "rv32ec"])
def test_optimized_ir_on_target(models, target):
    """-O2 output (ranks, quantized types, preorder, early-exit annotations) runs exactly too."""
    require_tool(*TOOLS[target])
    jobs, meta = [], []
    for name in ("sk_rf_clf", "xgb_bin", "lgbm_reg"):
        model, X = models[name]
        result = optimize(emlc.load(model), level="O2", target=target)
        rows = _test_rows(result.ensemble, X)
        jobs.append((result.ensemble, rows, target, result.layout))
        meta.append((name, result.ensemble, model, rows))
    for (name, ens, model, rows), result in zip(meta, run_parallel(jobs, workers=2)):
        _check(name, ens, model, rows, result)


def test_mcs51_runs_in_s51():
    """8051: tiny models (3 trees, depth 3; SDCC compiles big headers very slowly) built with
    SDCC and run in ucsim's s51, which prints through its simulator interface and quits on
    the program's stop command. Both layouts, raw models and an -O2 one (ranks, early exit;
    its inline layout is left out: SDCC needs over a minute for it)."""
    require_tool(*TOOLS["mcs51"])
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    from emlc.ir.interpret import interpret_proba

    Xn, y3 = _data()
    X0 = np.nan_to_num(Xn)
    gb = GradientBoostingClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X0, (y3 > 0).astype(int))
    rf = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(Xn, y3)
    rf_o2 = optimize(emlc.load(rf), level="O2", target="mcs51").ensemble
    assert rf_o2.early_exit is not None
    jobs, meta = [], []
    for model, ens, X, layouts in ((gb, emlc.load(gb), X0, ("inline", "table")), (rf, emlc.load(rf), Xn, ("inline",)),
                                   (rf, rf_o2, Xn, ("table",))):
        rows = _test_rows(ens, X, n=12)
        for layout in layouts:
            jobs.append((ens, rows, "mcs51", layout))
            meta.append((model, ens, rows))
    for (model, ens, rows), result in zip(meta, run_parallel(jobs, workers=2)):
        _check("mcs51", ens, model, rows, result)
        np.testing.assert_allclose(result.values, interpret_proba(ens, rows), rtol=1e-5, atol=1e-6)
