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
from emlc.backends.llvm.codegen import INLINE_MAX_NODES
from emlc.ir import Op


@pytest.fixture(params=[INLINE_MAX_NODES, 0], ids=["inline", "table"])
def kernel(request) -> int:
    """``inline_max_nodes``: these small models get inline code by default, 0 walks tables."""
    return request.param


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


def _check(model, X, kernel: int, proba: bool = True, rtol: float = 0.0):
    p = jit(model, cache_dir=False, inline_max_nodes=kernel)
    assert np.array_equal(p.predict(X), model.predict(X))
    if proba:
        np.testing.assert_allclose(p.predict_proba(X), model.predict_proba(X), rtol=rtol, atol=1e-6)


def test_sklearn_random_forests(kernel):
    X, y = _data(3)
    clf = RandomForestClassifier(n_estimators=15, max_depth=8, random_state=0).fit(X, y)
    _check(clf, _probe(clf), kernel)
    reg = RandomForestRegressor(n_estimators=10, max_depth=8, random_state=0).fit(X, y * 1.5)
    Xt = _probe(reg)
    assert np.array_equal(jit(reg, cache_dir=False, inline_max_nodes=kernel).predict(Xt), reg.predict(Xt))


def test_sklearn_gradient_boosting(kernel):
    X, y = _data(2, nan=False)
    gb = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    Xt = np.nan_to_num(_probe(gb))
    _check(gb, Xt, kernel)
    X3, y3 = _data(3)
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X3, y3)
    _check(hgb, _probe(hgb), kernel)


@pytest.mark.parametrize("classes", [2, 3])
def test_xgboost(classes, kernel):
    X, y = _data(classes)
    model = xgb.XGBClassifier(n_estimators=25, max_depth=4, random_state=0).fit(X, y)
    _check(model, _probe(model), kernel)
    reg = xgb.XGBRegressor(n_estimators=20, max_depth=4).fit(X, y * 2.0)
    Xt = _probe(reg)
    assert np.array_equal(jit(reg, cache_dir=False, inline_max_nodes=kernel).predict(Xt), reg.predict(Xt))


@pytest.mark.parametrize("classes", [2, 3])
def test_lightgbm(classes, kernel):
    X, y = _data(classes)
    model = lgb.LGBMClassifier(n_estimators=25, num_leaves=15, verbose=-1).fit(X, y)
    Xt = _probe(model)
    _check(model, Xt, kernel)
    reg = lgb.LGBMRegressor(n_estimators=20, num_leaves=15, verbose=-1).fit(X, y * 2.0)
    assert np.array_equal(jit(reg, cache_dir=False, inline_max_nodes=kernel).predict(Xt), reg.predict(Xt))


def test_lightgbm_categorical(kernel):
    """Categorical splits (bitsets, NaN and unseen codes) in both kernels."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 3)).astype(np.float32)
    X[:, 2] = rng.integers(0, 40, size=600)
    y = ((X[:, 2] % 3 == 0) ^ (X[:, 0] > 0)).astype(int)
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=15, min_data_per_group=5, cat_smooth=1,
                               verbose=-1).fit(X, y, categorical_feature=[2])
    Xt = X[:300].copy()
    Xt[::7, 2] = np.nan
    Xt[::11, 2] = 70  # a code no split has seen
    assert any((t.op == Op.CAT).any() for t in emlc.load(model).trees)
    _check(model, Xt, kernel)
