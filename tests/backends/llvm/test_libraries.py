"""emlc.jit against the libraries' own predict: sklearn, XGBoost and LightGBM models."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)

import emlc
from emlc.backends.llvm import jit
from emlc.ir import Op


def _data(classes: int, nan: bool = True):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (classes > 2) * (X[:, 3] > 0.5)
    if nan:
        X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def _probe(model) -> np.ndarray:
    """Test rows: fresh draws, NaN, and values exactly at the model's thresholds."""
    ens = emlc.load(model)
    thresholds = np.concatenate([t.threshold[t.op != Op.LEAF].astype(np.float64) for t in ens.trees])
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, ens.n_features)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    at = rng.random(X.shape) < 0.3
    finite = thresholds[np.isfinite(thresholds)].astype(np.float32)
    X[at] = rng.choice(finite, size=int(at.sum()))
    return X


def _check(model, X, proba: bool = True, rtol: float = 0.0):
    p = jit(model, cache_dir=False)
    assert np.array_equal(p.predict(X), model.predict(X))
    if proba:
        np.testing.assert_allclose(p.predict_proba(X), model.predict_proba(X), rtol=rtol, atol=1e-6)


def test_sklearn_random_forests():
    X, y = _data(3)
    clf = RandomForestClassifier(n_estimators=15, max_depth=8, random_state=0).fit(X, y)
    _check(clf, _probe(clf))
    reg = RandomForestRegressor(n_estimators=10, max_depth=8, random_state=0).fit(X, y * 1.5)
    Xt = _probe(reg)
    assert np.array_equal(jit(reg, cache_dir=False).predict(Xt), reg.predict(Xt))


def test_sklearn_gradient_boosting():
    X, y = _data(2, nan=False)
    gb = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    Xt = np.nan_to_num(_probe(gb))
    _check(gb, Xt)
    X3, y3 = _data(3)
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X3, y3)
    _check(hgb, _probe(hgb))


@pytest.mark.parametrize("classes", [2, 3])
def test_xgboost(classes):
    X, y = _data(classes)
    model = xgb.XGBClassifier(n_estimators=25, max_depth=4, random_state=0).fit(X, y)
    _check(model, _probe(model))
    reg = xgb.XGBRegressor(n_estimators=20, max_depth=4).fit(X, y * 2.0)
    Xt = _probe(reg)
    assert np.array_equal(jit(reg, cache_dir=False).predict(Xt), reg.predict(Xt))


@pytest.mark.parametrize("classes", [2, 3])
def test_lightgbm(classes):
    X, y = _data(classes)
    model = lgb.LGBMClassifier(n_estimators=25, num_leaves=15, verbose=-1).fit(X, y)
    Xt = _probe(model)
    _check(model, Xt)
    reg = lgb.LGBMRegressor(n_estimators=20, num_leaves=15, verbose=-1).fit(X, y * 2.0)
    assert np.array_equal(jit(reg, cache_dir=False).predict(Xt), reg.predict(Xt))
