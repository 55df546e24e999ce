"""A .json model is parsed once: the format check hands its document to the frontend.

Big JSON models take seconds to parse, and sniffing XGBoost versus LightGBM used to
parse the file a second time.
"""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

import emlc
from emlc.frontends.lightgbm import from_lightgbm
from emlc.frontends.xgboost import from_xgboost
from emlc.ir.text import print_ir


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _xgboost(path):
    X, y = _data()
    booster = xgb.train({"max_depth": 3, "objective": "binary:logistic"}, xgb.DMatrix(X, label=y), 5)
    booster.save_model(str(path))
    return from_xgboost(booster)


def _lightgbm(path):
    X, y = _data()
    booster = lgb.train({"num_leaves": 7, "objective": "binary", "verbose": -1}, lgb.Dataset(X, label=y), 5)
    path.write_text(json.dumps(booster.dump_model()))
    return from_lightgbm(booster)


@pytest.mark.parametrize("make", [_xgboost, _lightgbm])
def test_json_model_parsed_once(make, tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    expected = make(path)
    size = path.stat().st_size
    whole_file = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: whole_file.append(len(s) == size) or real(s, *a, **k))
    ens = emlc.load(path)
    assert sum(whole_file) == 1
    assert print_ir(ens) == print_ir(expected)
