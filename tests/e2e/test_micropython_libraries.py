"""Models from scikit-learn, XGBoost and LightGBM, run in real MicroPython, match the library.

Every prediction of every row is compared with the library's own ``predict``: the
emlc CSV through the emlc_trees runtime, the generated module, and (for models it
can express) the emlearn CSV.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import xgboost as xgb
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

import emlc
from emlc.backends.micropython import emit_micropython
from emlc.backends.micropython.emlc_csv import emit_emlc_csv
from emlc.backends.micropython.emlearn_csv import emit_emlearn_csv
from emlc.paths import runtime_dir
from tests.e2e.mpy import predict_batch, require_micropython, rows_text

# the native walk is installed too: this port has no native emitter, so emlc_trees must fall back
RUNTIME = {
    name: (runtime_dir() / "micropython" / name).read_text()
    for name in ("emlc_trees.py", "emlc_trees_native.py")
}


def _data(task: str, n_classes: int = 3):
    if task == "classification":
        X, y = make_classification(
            n_samples=300, n_features=6, n_informative=4, n_classes=n_classes, random_state=0
        )
    else:
        X, y = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
    X = X.astype(np.float32)
    X[::17, 2] = np.nan  # NaN routing, for the libraries that learn it
    return X, y


def _models():
    Xc, yc = _data("classification")
    Xb, yb = _data("classification", 2)
    Xr, yr = _data("regression")
    no_nan = lambda X: np.nan_to_num(X)  # noqa: E731 - GradientBoosting* and ExtraTrees reject NaN
    return [
        ("rf_cls", RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0), Xc, yc),
        ("et_cls", ExtraTreesClassifier(n_estimators=8, max_depth=6, random_state=0), Xc, yc),
        ("gb_cls", GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0), no_nan(Xc), yc),
        ("gb_bin", GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0), no_nan(Xb), yb),
        ("rf_reg", RandomForestRegressor(n_estimators=8, max_depth=6, random_state=0), Xr, yr),
        ("et_reg", ExtraTreesRegressor(n_estimators=8, max_depth=6, random_state=0), Xr, yr),
        ("gb_reg", GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0), no_nan(Xr), yr),
        ("xgb_cls", xgb.XGBClassifier(n_estimators=10, max_depth=4, random_state=0), Xc, yc),
        ("xgb_bin", xgb.XGBClassifier(n_estimators=10, max_depth=4, random_state=0), Xb, yb),
        ("lgb_cls", lgb.LGBMClassifier(n_estimators=10, num_leaves=15, verbose=-1, random_state=0), Xc, yc),
        ("lgb_reg", lgb.LGBMRegressor(n_estimators=10, num_leaves=15, verbose=-1, random_state=0), Xr, yr),
    ]


def _chunked(ens, name: str) -> str:
    import emlc.backends.micropython.emit as backend

    old, backend._CHUNK_LINES = backend._CHUNK_LINES, 40
    try:
        src = emit_micropython(ens, name=name)
    finally:
        backend._CHUNK_LINES = old
    assert "_CHUNKS = " in src
    return src


def _case(setup: str, X, proba: bool) -> dict:
    return {"setup": setup, "rows": rows_text(X), "integer": X.dtype.kind in "iu", "proba": proba}


def _check(model, X, got, classifier: bool) -> None:
    preds, probas = got
    if classifier:
        assert np.array_equal(np.asarray(preds), model.predict(X)), "class predictions differ"
        np.testing.assert_allclose(np.asarray(probas), model.predict_proba(X), rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(np.asarray(preds), model.predict(X), rtol=1e-5, atol=1e-4)


def test_library_models_match_in_micropython():
    require_micropython()
    cases, files, expect = [], dict(RUNTIME), []
    for name, model, X, y in _models():
        model.fit(X, y)
        ens = emlc.load(model)
        classifier = hasattr(model, "predict_proba")
        files[f"{name}.csv"] = emit_emlc_csv(ens)
        files[f"{name}.py"] = emit_micropython(ens, name=name)
        cases.append(_case(f"import emlc_trees\nmodel = emlc_trees.load('{name}.csv')", X, classifier))
        cases.append(_case(f"import {name} as model", X, classifier))
        # the same model split into many chunk functions, as big models are
        files[f"{name}_chunked.py"] = _chunked(ens, f"{name}_chunked")
        cases.append(_case(f"import {name}_chunked as model", X, classifier))
        expect += [(model, X, classifier)] * 3
    for (model, X, classifier), got in zip(expect, predict_batch(cases, files)):
        _check(model, X, got, classifier)


def _int16_vote_forest():
    """A digits forest grown to pure leaves: its soft vote equals emlearn's hard vote."""
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.int16)
    rf = RandomForestClassifier(n_estimators=6, max_depth=None, random_state=0).fit(X[:1000], y[:1000])
    return rf, emlc.load(rf).replace(input_type="int16"), X[1000:1300]


def test_emlearn_csv_matches_sklearn_in_micropython():
    require_micropython()
    rf, ens, X = _int16_vote_forest()
    csv = emit_emlearn_csv(ens)
    assert csv.splitlines()[:3] == ["f,64", "c,10", "lf,0"]
    (preds, probas), = predict_batch(
        [_case("import emlc_trees\nmodel = emlc_trees.load('digits.csv')", X, True)],
        {**RUNTIME, "digits.csv": csv},
    )
    assert np.array_equal(np.asarray(preds), np.arange(10)[rf.predict(X)])
    np.testing.assert_allclose(np.asarray(probas), rf.predict_proba(X), atol=1e-12)


def test_class_labels_come_back_as_the_library_returns_them():
    """String (with commas, quotes, newlines, non-ASCII), float and bool labels, CSV and module alike."""
    require_micropython()
    X, y = _data("classification")
    X = np.nan_to_num(X)
    label_sets = {
        "str": np.array(["a,b", "it's \"x\"\nnext", "caf\u00e9 \u2713"])[y],
        "float": np.array([-1.0, 2.0, 16.0])[y],  # sklearn only takes integral floats as classes
        "bool": y == 1,
    }
    cases, files, expect = [], dict(RUNTIME), []
    for kind, labels in label_sets.items():
        model = RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0).fit(X, labels)
        ens = emlc.load(model)
        files[f"lab_{kind}.csv"] = emit_emlc_csv(ens)
        files[f"lab_{kind}.py"] = emit_micropython(ens, name=kind)
        cases.append(_case(f"import emlc_trees\nmodel = emlc_trees.load('lab_{kind}.csv')", X, False))
        cases.append(_case(f"import lab_{kind} as model", X, False))
        expect += [model.predict(X).tolist()] * 2
    for want, (preds, _) in zip(expect, predict_batch(cases, files)):
        assert preds == want
        assert [type(p) for p in preds] == [type(w) for w in want]
