"""Models whose predict_proba / predict go through a link, with what the library returns.

One case per library and objective. Each model is trained small, then a copy with its
leaf values multiplied (by 40 for XGBoost's float32, 400 for the float64 libraries) is
added: its margins reach hundreds, so probabilities sit at 0 and 1 and exp overflows
(float32 past 88.7, float64 past 709). ``expected`` is the
library's own predict_proba (classifiers) or predict (regressors) on ``X``.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import lightgbm as lgb
import numpy as np
import xgboost as xgb
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)

#: leaf multipliers: margins past float32's and float64's exp overflow
SCALE32, SCALE64 = 40.0, 400.0


@dataclass(frozen=True)
class Case:
    name: str
    model: Any
    X: np.ndarray
    expected: np.ndarray
    proba: bool


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    X[:, 0] *= 3.0
    y2 = (X[:, 0] + X[:, 1] > 0).astype(int)
    y3 = y2 + (X[:, 2] > 0.4)
    counts = rng.poisson(np.exp(X[:, 1])).astype(np.float64) + (X[:, 0] > 0)
    return X, y2, y3, counts


def _xgb_scaled(model: Any, k: float) -> Any:
    """The XGBoost sklearn model with every leaf value times ``k`` (same wrapper class)."""
    doc = json.loads(model.get_booster().save_raw("json"))
    for tree in doc["learner"]["gradient_booster"]["model"]["trees"]:
        leaf = np.asarray(tree["left_children"]) == -1
        for key in ("split_conditions", "base_weights"):
            values = np.asarray(tree[key], dtype=np.float64)
            values[leaf] *= k
            tree[key] = values.tolist()
    out = type(model)()
    out.load_model(bytearray(json.dumps(doc).encode()))
    return out


def _lgb_scaled(booster: lgb.Booster, k: float) -> lgb.Booster:
    text = re.sub(r"tree_sizes=.*\n", "", booster.model_to_string())
    text = re.sub(r"leaf_value=(.*)", lambda m: "leaf_value=" + " ".join(repr(float(v) * k) for v in m.group(1).split()), text)
    return lgb.Booster(model_str=text)


def _sk_scaled(model: Any, k: float) -> Any:
    """scikit-learn boosting with leaf values times ``k`` (their arrays are views)."""
    if hasattr(model, "_predictors"):
        for stage in model._predictors:
            for predictor in stage:
                predictor.nodes["value"] *= k
    else:
        for tree in model.estimators_.ravel():
            tree.tree_.value[...] *= k
    return model


def _lgb_expected(booster: lgb.Booster, X: np.ndarray, classifier: bool) -> np.ndarray:
    """Booster.predict, with LGBMClassifier.predict_proba's ``[1 - p, p]`` for binary models."""
    p = booster.predict(X)
    if classifier and p.ndim == 1:
        return np.vstack((1.0 - p, p)).transpose()
    return p


@lru_cache(maxsize=1)
def cases() -> tuple[Case, ...]:
    X, y2, y3, counts = _data()
    out: list[Case] = []
    warnings.filterwarnings("ignore", category=UserWarning)
    xgb_models = [
        ("binary:logistic", xgb.XGBClassifier, y2),
        ("multi:softprob", xgb.XGBClassifier, y3),
        ("reg:logistic", xgb.XGBRegressor, y2),
        ("count:poisson", xgb.XGBRegressor, counts),
        ("reg:gamma", xgb.XGBRegressor, counts + 0.5),
        ("reg:tweedie", xgb.XGBRegressor, counts),
    ]
    for objective, cls, y in xgb_models:
        model = cls(n_estimators=20, max_depth=3, objective=objective, n_jobs=1).fit(X, y)
        for k in (1.0, SCALE32):
            m = model if k == 1.0 else _xgb_scaled(model, k)
            proba = cls is xgb.XGBClassifier
            out.append(Case(f"xgboost {objective} x{k:g}", m, X, m.predict_proba(X) if proba else m.predict(X), proba))
    lgb_models = [
        ("binary", y2, True), ("multiclass", y3, True), ("multiclassova", y3, True),
        ("poisson", counts, False), ("gamma", counts + 0.5, False), ("tweedie", counts, False),
        ("cross_entropy", y2, False),
    ]
    for objective, y, classifier in lgb_models:
        params = {"objective": objective, "num_leaves": 7, "verbose": -1, "num_threads": 1}
        if objective == "multiclass" or objective == "multiclassova":
            params["num_class"] = 3
        booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=15)
        for k in (1.0, SCALE64):
            b = booster if k == 1.0 else _lgb_scaled(booster, k)
            out.append(Case(f"lightgbm {objective} x{k:g}", b, X, _lgb_expected(b, X, classifier), classifier))
    sk_models = [
        ("GradientBoostingClassifier binary", lambda: GradientBoostingClassifier(n_estimators=15, max_depth=2).fit(X, y2)),
        ("GradientBoostingClassifier multiclass", lambda: GradientBoostingClassifier(n_estimators=10, max_depth=2).fit(X, y3)),
        ("GradientBoostingClassifier exponential", lambda: GradientBoostingClassifier(n_estimators=10, loss="exponential").fit(X, y2)),
        ("HistGradientBoostingClassifier binary", lambda: HistGradientBoostingClassifier(max_iter=15).fit(X, y2)),
        ("HistGradientBoostingClassifier multiclass", lambda: HistGradientBoostingClassifier(max_iter=10).fit(X, y3)),
        ("HistGradientBoostingRegressor poisson", lambda: HistGradientBoostingRegressor(max_iter=10, loss="poisson").fit(X, counts)),
    ]
    for name, fit in sk_models:
        fitted = fit()
        for k in (1.0, SCALE64):
            m = fitted if k == 1.0 else _sk_scaled(copy.deepcopy(fitted), k)
            proba = hasattr(m, "predict_proba")
            out.append(Case(f"sklearn {name} x{k:g}", m, X, m.predict_proba(X) if proba else m.predict(X), proba))
    forest = RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0).fit(X, y3)
    out.append(Case("sklearn RandomForestClassifier", forest, X, forest.predict_proba(X), True))
    return tuple(out)


def ids() -> list[str]:
    return [c.name for c in cases()]
