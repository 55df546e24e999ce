"""Real model files that other projects trained and published (tests/corpus/*/SOURCE.md).

Each file is loaded by its own library and by emlc; rows are built from the model's own
thresholds (exact values, float32 and float64 neighbours, midpoints, NaN, the zero band,
category codes up to 1e9). The interpreter and the JIT must give the library's raw margins
bit for bit and its classes; host C (built at -O2) the library's classes, and its values
rounded once to float. Files emlc cannot read get a one-line error naming why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import emlc
from emlc.ir import Task
from emlc.ir.interpret import interpret, interpret_raw, interpret_value
from tests.conftest import require_tool
from tests.e2e.harness import run_model
from tests.strategies import special_values

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

LIGHTGBM = [
    "lleaves/NYC_taxi.txt", "lleaves/airline.txt", "lleaves/boston_housing.txt", "lleaves/leaf_scan.txt",
    "lleaves/mixed_categorical.txt", "lleaves/multiclass.txt", "lleaves/pure_categorical.txt",
    "lleaves/single_tree.txt", "lleaves/tiniest_single_tree.txt",
    "leaves/genlin_fmtp_gamma_AvgClaimAmount.model", "leaves/genlin_fmtp_poisson_Frequency.model",
    "leaves/genlin_fmtp_tweedie_PurePremium.model", "leaves/lg_breast_cancer.txt",
    "leaves/lg_dart_breast_cancer.model", "leaves/lg_kddcup99.model", "leaves/lg_rf_iris.model",
    "leaves/lgmulticlass.model", "leaves/model_simple.txt",
    "treelite/toy_categorical_model.txt", "treelite/model_with_constant_tree.txt",
]
XGBOOST = [
    "treebeard/bosch_xgb_model_save.json", "treebeard/leftheavy_xgb_model.json",
    "treebeard/rightheavy_xgb_model.json", "treebeard/rightandleftheavy_xgb_model.json",
    "treebeard/TestModel_Size4_1.json", "treelite/xgb_toy_categorical_model.json",
]
#: LightGBM dump_model() JSON (LightGBM cannot load these): compared with their text twin
DUMPS = {"leaves/lg_dart_breast_cancer.json": "leaves/lg_dart_breast_cancer.model"}
REFUSED = {
    "leaves/lg_1tree.json": "leaf_index 3 outside its 3 leaves",
    **{f: "legacy binary format" for f in (
        "leaves/xgagaricus.model", "leaves/xg_dart_agaricus.model", "leaves/xgdermatology.model",
        "leaves/xgblin_agaricus.model", "treelite/mushroom.model", "treelite/dermatology.model")},
}


@dataclass
class Reference:
    """The library's own raw margins and classes (None for regressors) of a row batch.

    ``averaged``: LightGBM's rf mode, whose ``raw_score`` output is the sum of the trees
    while ``predict`` links their mean, so its predictions are compared instead.
    ``finite``: XGBoost refuses infinite inputs (and values beyond float32) unless told.
    """

    raw: Callable[[np.ndarray], np.ndarray]
    classes: Callable[[np.ndarray], np.ndarray | None]
    averaged: Callable[[np.ndarray], np.ndarray] | None = None
    finite: bool = False


def _lightgbm(path: Path) -> Reference:
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(path))
    objective = booster.dump_model(num_iteration=0)["objective"].split()[0]

    def classes(X):
        if objective == "binary":
            return (booster.predict(X) > 0.5).astype(np.int64)
        if objective.startswith("multiclass"):
            return np.argmax(booster.predict(X).reshape(len(X), -1), axis=1)
        return None

    averaged = (lambda X: booster.predict(X).reshape(len(X), -1)) if "average_output" in path.read_text() else None
    return Reference(lambda X: booster.predict(X, raw_score=True).reshape(len(X), -1), classes, averaged)


def _xgboost(path: Path) -> Reference:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(path))
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]

    def dmatrix(X):
        return xgb.DMatrix(X, missing=np.nan, enable_categorical=True, feature_names=booster.feature_names,
                           feature_types=booster.feature_types)

    def classes(X):
        if objective == "binary:logistic":
            return (booster.predict(dmatrix(X)) > 0.5).astype(np.int64)
        return None

    return Reference(lambda X: booster.predict(dmatrix(X), output_margin=True).reshape(len(X), -1), classes,
                     finite=True)


def _rows(ens, n: int = 300, seed: int = 0, finite: bool = False) -> np.ndarray:
    """Rows from each feature's special values (float64 neighbours whatever the model's
    input type); ``finite``: infinities and values beyond float32 become the largest floats."""
    rng = np.random.default_rng(seed)
    wide = ens.replace(input_type="float64")
    cols = [special_values(wide, f) for f in range(ens.n_features)]
    X = np.column_stack([c[rng.integers(len(c), size=n)] for c in cols])
    if finite:
        big = float(np.finfo(np.float32).max)
        X = np.where(np.isnan(X), X, np.clip(X, -big, big))
    return X


CASES = {**{f: _lightgbm for f in LIGHTGBM}, **{f: _xgboost for f in XGBOOST}}


@pytest.fixture(scope="module")
def loaded():
    out = {}
    for name, reference in CASES.items():
        ens = emlc.load(CORPUS / name)
        ref = reference(CORPUS / name)
        out[name] = (ens, ref, _rows(ens, finite=ref.finite))
    return out


def test_corpus_is_real_and_documented():
    """At least 25 readable files, every folder with its SOURCE.md and LICENSE."""
    assert len(CASES) + len(DUMPS) >= 25
    for folder in {Path(f).parent.name for f in [*CASES, *DUMPS, *REFUSED]}:
        assert (CORPUS / folder / "SOURCE.md").is_file() and (CORPUS / folder / "LICENSE").is_file()
        listed = (CORPUS / folder / "SOURCE.md").read_text()
        for f in [*CASES, *DUMPS, *REFUSED]:
            if Path(f).parent.name == folder:
                assert Path(f).name in listed, f


@pytest.mark.parametrize("name", sorted(CASES))
def test_interpreter_and_jit_equal_the_library(loaded, name):
    ens, ref, X = loaded[name]
    jit = emlc.jit(ens)
    if ref.averaged is not None:
        want = ref.averaged(X)
        np.testing.assert_array_equal(interpret_value(ens, X), want)
        np.testing.assert_array_equal(jit.predict_value(X).reshape(want.shape), want)
    else:
        want = ref.raw(X)
        np.testing.assert_array_equal(interpret_raw(ens, X), want)
        np.testing.assert_array_equal(jit.predict_raw(X).reshape(want.shape), want)
    classes = ref.classes(X)
    if classes is not None:
        np.testing.assert_array_equal(np.searchsorted(ens.classes, interpret(ens, X)), classes)


@pytest.mark.parametrize("name, twin", sorted(DUMPS.items()))
def test_lightgbm_json_dumps_equal_their_text_twin(name, twin):
    ens = emlc.load(CORPUS / name)
    ref = _lightgbm(CORPUS / twin)
    X = _rows(ens)
    np.testing.assert_array_equal(interpret_raw(ens, X), ref.raw(X))


@pytest.mark.parametrize("name", sorted(CASES))
def test_host_c_at_O2_equals_the_library(loaded, name):
    require_tool("gcc")
    ens, ref, X = loaded[name]
    built = emlc.compile(ens, target="host", level="O2", emit_as="ir")
    got = run_model(built.ensemble, X, "host", built.layout)
    classes = ref.classes(X)
    if classes is not None:
        np.testing.assert_array_equal(got.predict, classes)
    elif ens.task is Task.REGRESSION and ens.n_outputs == 1:
        np.testing.assert_array_equal(got.predict, interpret(ens, X).astype(np.float32))


@pytest.mark.parametrize("name, message", sorted(REFUSED.items()))
def test_unreadable_files_get_one_line_errors(name, message):
    with pytest.raises(emlc.EmlcError, match=message) as info:
        emlc.load(CORPUS / name)
    assert "\n" not in str(info.value) and "corrupt" not in str(info.value)
