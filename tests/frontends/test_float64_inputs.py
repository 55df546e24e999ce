"""LightGBM and HistGradientBoosting compare float64 features with float64 thresholds.

Rows sit at and around every threshold: the threshold itself, its float64 neighbours,
the float32 numbers around it and the midpoints between them (a float32 cast would move
those across the threshold), NaN, the zero band and category codes. The interpreter, the
JIT and host C must equal the library on every one of them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emlc
from emlc.ir import Task
from emlc.ir.interpret import interpret_raw
from tests.backends.c.test_emit import expected
from tests.conftest import require_tool
from tests.e2e.harness import run_model
from tests.strategies import as_float64_inputs, inputs_for, threshold_rows


def _data(seed: int = 0, n: int = 600):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1.0, 3.0, 0.01, 1e4]
    X[:, 3] = rng.integers(0, 700, n)  # a category code (for the categorical models)
    y = X[:, 0] + np.sin(X[:, 1]) + 50 * X[:, 2] + (X[:, 3] % 7 < 3)
    return X, y


def _lightgbm(kind: str):
    import lightgbm as lgb

    X, y = _data()
    params = {"verbose": -1, "num_leaves": 15, "min_data_in_leaf": 3, "min_data_per_group": 2, "cat_smooth": 0,
              "max_cat_to_onehot": 2, "max_cat_threshold": 600}
    cat: list[int] | str = "auto"
    if kind == "nan":
        X[np.random.default_rng(1).random(X.shape) < 0.1] = np.nan
    elif kind == "zero":
        X[np.random.default_rng(1).random(X.shape) < 0.1] = 0.0
        params["zero_as_missing"] = True
    elif kind == "none":
        params["use_missing"] = False
    elif kind == "categorical":
        cat = [3]
    objective = "multiclass" if kind == "multiclass" else "regression"
    if objective == "multiclass":
        y = np.digitize(y, np.quantile(y, [0.33, 0.66]))
        params["num_class"] = 3
    ds = lgb.Dataset(X, y, categorical_feature=cat, params=params)
    booster = lgb.train({**params, "objective": objective}, ds, num_boost_round=25)
    return booster, lambda Z: booster.predict(Z, raw_score=True).reshape(len(Z), -1)


def _hgb(kind: str):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    X, y = _data(2)
    X[np.random.default_rng(3).random(X.shape) < 0.1] = np.nan
    if kind == "classifier":
        model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y > np.median(y))
        return model, lambda Z: model.decision_function(Z).reshape(len(Z), -1)
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    return model, lambda Z: model.predict(Z).reshape(len(Z), -1)


MODELS = {
    **{f"lightgbm-{k}": (_lightgbm, k) for k in ("nan", "zero", "none", "categorical", "multiclass")},
    **{f"hgb-{k}": (_hgb, k) for k in ("regressor", "classifier")},
}


@pytest.fixture(scope="module")
def built():
    out = {}
    for name, (make, kind) in MODELS.items():
        model, raw = make(kind)
        ens = emlc.load(model)
        out[name] = (model, raw, ens, emlc.jit(ens))
    return out


def test_float64_models_keep_float64_inputs(built):
    assert {name: ens.input_type for name, (_, _, ens, _) in built.items()} == dict.fromkeys(MODELS, "float64")


@settings(max_examples=40)
@given(st.data())
def test_float64_rows_around_thresholds_match_the_library(built, data):
    model, raw, ens, jit = built[data.draw(st.sampled_from(sorted(MODELS)))]
    X = data.draw(inputs_for(as_float64_inputs(ens)))
    want = raw(X)
    np.testing.assert_array_equal(interpret_raw(ens, X), want)
    np.testing.assert_array_equal(jit.predict_raw(X).reshape(want.shape), want)


def test_rows_that_float32_would_move_are_covered(built):
    """The rows above include values a float32 cast sends to the other side of a split
    (the bug that was: LightGBM inputs cast to float32), so the equality is not vacuous."""
    model, raw, ens, _ = built["lightgbm-nan"]
    X = threshold_rows(ens, n=400)
    as_float32 = X.astype(np.float32).astype(np.float64)
    assert (raw(as_float32) != raw(X)).any(axis=1).mean() > 0.05


@pytest.mark.parametrize("name", sorted(MODELS))
def test_host_c_takes_double_rows_like_the_library(built, name):
    require_tool("gcc")
    model, raw, ens, _ = built[name]
    X = threshold_rows(ens, n=400)
    got = run_model(ens, X, "host", "inline")
    pred, values = expected(ens, X)
    np.testing.assert_array_equal(interpret_raw(ens, X), raw(X))
    if ens.task is Task.CLASSIFICATION:
        np.testing.assert_array_equal(got.predict, pred)
        library = (np.searchsorted(ens.classes, model.predict(X)) if hasattr(model, "classes_")
                   else np.argmax(model.predict(X), axis=1))  # a multiclass Booster's probabilities
        np.testing.assert_array_equal(pred, library)
    else:
        np.testing.assert_array_equal(got.predict, raw(X)[:, 0].astype(np.float32))
    np.testing.assert_array_equal(got.values, values.astype(np.float32))


def test_lightgbm_categories_use_every_bit_of_uint32_words(built):
    """Category sets over 600 codes: bit 31 of a cat_threshold word is a category like any
    other (it was refused as 'outside the 32-bit range'); negative, NaN and fractional codes
    go where LightGBM sends them."""
    model, raw, ens, jit = built["lightgbm-categorical"]
    text = model.model_to_string()
    words = [int(w) for line in text.splitlines() if line.startswith("cat_threshold=") for w in line[14:].split()]
    assert max(words) >= 2**31
    codes = np.concatenate([np.arange(-3, 705), [np.nan, 0.5, 31.5, 32.0, 63.9, -0.5, 1e10, -1e10, 2.0**31, 2.0**32]])
    X = np.zeros((codes.size, 4))
    X[:, 3] = codes
    np.testing.assert_array_equal(interpret_raw(ens, X), raw(X))
    np.testing.assert_array_equal(jit.predict_raw(X).reshape(-1, 1), raw(X))


def test_devices_declare_float32_inputs_and_host_keeps_float64(built):
    _, _, ens, _ = built["lightgbm-nan"]
    avr = emlc.compile(ens, target="avr", level="O0")
    host = emlc.compile(ens, target="host", level="O0")
    assert avr.ensemble.input_type == "float32" and "const float *features" in avr.code
    assert host.ensemble.input_type == "float64" and "const double *features" in host.code
    assert "exact for every float32 value" in avr.code
    m4 = emlc.compile(ens, target="cortex-m4f", level="O0", input_type="float64")
    assert "const double *features" in m4.code


@pytest.mark.parametrize("target, model, message", [
    ("avr", "lightgbm-nan", "avr's double is 32-bit; use --input float32"),
    ("host", "xgboost", "compares float32 features"),
])
def test_float64_declarations_that_cannot_be_exact_are_refused(built, target, model, message):
    if model == "xgboost":
        import xgboost as xgb

        X, y = _data()
        ens = emlc.load(xgb.XGBRegressor(n_estimators=2, max_depth=2).fit(X, y))
    else:
        ens = built[model][2]
    with pytest.raises(emlc.EmlcError, match=message.replace(";", ".*")):
        emlc.compile(ens, target=target, level="O0", input_type="float64")


def test_float32_device_build_is_exact_for_every_float32_row(built):
    """The narrowed build (what a device runs) equals LightGBM on float32-valued rows."""
    model, raw, ens, _ = built["lightgbm-nan"]
    X = threshold_rows(ens, n=400).astype(np.float32).astype(np.float64)
    device = emlc.compile(ens, target="cortex-m0", level="O2").ensemble
    assert device.input_type == "float32"
    np.testing.assert_array_equal(interpret_raw(device, X), raw(X))
