"""Seed model files for the fuzz tests: tiny, valid, one per format and model shape.

Models are trained once per session (a few trees of depth 2 on 3 features), so every
mutation starts from a file the loaders accept and the fuzzers spend their examples
on the damage, not on training.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
import tempfile

import numpy as np


def _data(n_classes: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 3))
    X[:, 2] = rng.integers(0, 4, size=120)
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + X[:, 2] > 1).astype(int)
    if n_classes > 2:
        y = (np.nan_to_num(X[:, 1] * 2).astype(int) % n_classes + n_classes) % n_classes
    return X, y


@lru_cache(maxsize=None)
def xgboost_files() -> dict[str, bytes]:
    """XGBoost JSON and UBJ files: binary logistic, 3-class softprob, categorical regression."""
    import xgboost as xgb

    out: dict[str, bytes] = {}
    X, y = _data()
    X3, y3 = _data(3, seed=1)
    boosters = {
        "binary": xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, y), 3),
        "softprob": xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2}, xgb.DMatrix(X3, y3), 2),
        "catreg": xgb.train(
            {"objective": "reg:squarederror", "max_depth": 2, "max_cat_to_onehot": 1},
            xgb.DMatrix(X, np.nan_to_num(X[:, 0]), feature_types=["q", "q", "c"], enable_categorical=True),
            3,
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, booster in boosters.items():
            for suffix in (".json", ".ubj"):
                path = Path(tmp) / f"{name}{suffix}"
                booster.save_model(str(path))
                out[f"xgb_{name}{suffix}"] = path.read_bytes()
    return out


@lru_cache(maxsize=None)
def lightgbm_files() -> dict[str, bytes]:
    """LightGBM text models and dump_model() JSON: binary with a categorical feature, 3-class."""
    import lightgbm as lgb

    out: dict[str, bytes] = {}
    X, y = _data()
    X3, y3 = _data(3, seed=1)
    params = {"num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1}
    boosters = {
        "binary": lgb.train({**params, "objective": "binary"}, lgb.Dataset(X, y, categorical_feature=[2]), 3),
        "multi": lgb.train({**params, "objective": "multiclass", "num_class": 3}, lgb.Dataset(X3, y3), 2),
    }
    for name, booster in boosters.items():
        out[f"lgb_{name}.txt"] = booster.model_to_string().encode()
        out[f"lgb_{name}.json"] = json.dumps(booster.dump_model()).encode()
    return out


@lru_cache(maxsize=None)
def ir_texts() -> dict[str, bytes]:
    """The IR text of every seed model above."""
    from emlc import load
    from emlc.ir.text import print_ir

    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in {**xgboost_files(), **lightgbm_files()}.items():
            path = Path(tmp) / name
            path.write_bytes(data)
            out[f"{Path(name).stem}_{Path(name).suffix[1:]}.emlir"] = print_ir(load(path)).encode()
    return out


@lru_cache(maxsize=None)
def csv_files() -> dict[str, bytes]:
    """MicroPython runtime CSVs (emlc format for every seed model, emlearn format where it applies)."""
    from emlc import load
    from emlc.backends.micropython.emlc_csv import emit_emlc_csv
    from emlc.backends.micropython.emlearn_csv import emit_emlearn_csv as emit_csv
    from emlc.errors import EmlcError
    from emlc.passes import optimize

    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in {**xgboost_files(), **lightgbm_files()}.items():
            path = Path(tmp) / name
            path.write_bytes(data)
            ens = load(path)
            integer = optimize(ens.replace(input_type="int16"), level="Os").ensemble
            for fmt, emit, model in (("emlc", emit_emlc_csv, ens), ("emlearn", emit_csv, integer)):
                try:
                    out[f"{Path(name).stem}_{fmt}.csv"] = emit(model).encode()
                except EmlcError:
                    pass  # no categorical splits in either; emlearn's holds integer classifiers only
    voting = optimize(load(_integer_forest()).replace(input_type="int16"), passes=["hard_vote"]).ensemble
    forest = optimize(voting, level="Os").ensemble
    out["rf_emlearn.csv"] = emit_csv(forest).encode()
    out["rf_emlc.csv"] = emit_emlc_csv(forest).encode()
    return out


def _integer_forest():
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(2)
    X = rng.integers(-300, 300, size=(150, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 100)
    return RandomForestClassifier(3, max_depth=3, random_state=0).fit(X, y)
