"""Real model files that other projects trained and published (tests/corpus/*/SOURCE.md).

Each file is loaded by its own library and by emlc; rows are built from the model's own
thresholds (exact values, float32 and float64 neighbours, midpoints, NaN, the zero band,
category codes up to 1e9, and the codes each categorical split's own set names). The interpreter and the JIT must give the library's raw margins
bit for bit and its classes; host C (built at -O2) the library's classes, and its values
rounded once to float. The files were read through the search tool's stored copies of
their repositories (SOURCE.md names each commit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import emlc
from emlc.ir import Op, Task
from emlc.ir.interpret import interpret, interpret_raw
from tests.conftest import require_tool
from tests.e2e.harness import run_model
from tests.strategies import threshold_rows

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

LIGHTGBM = [
    "lleaves/leaf_scan.txt", "lleaves/pure_categorical.txt", "lleaves/mixed_categorical.txt",
    "lleaves/tiniest_single_tree.txt", "lleaves/single_tree.txt", "lleaves/multiclass.txt", "leaves/model_simple.txt",
    "leaves/lg_rf_iris.model", "treelite/toy_categorical_model.txt", "treelite/model_with_constant_tree.txt",
    "lightgbm/model_num.txt", "lightgbm/LightGBM_model_for_if_else_test.txt", "lightgbm/LightGBM_model.txt",
    "lightgbm-jl/test_tree", "lightgbm-jl/gain_test_booster", "lightgbm-ruby/categorical.txt",
    "lightgbm/test_missing_value_handle_na_cuda.txt",
]
#: LightGBM JSON dumps (which LightGBM cannot load) -> the text model saved beside them from the same booster
LIGHTGBM_DUMPS = {
    "lleaves/single_tree.json": "lleaves/single_tree.txt",
    "lleaves/tiniest_single_tree.json": "lleaves/tiniest_single_tree.txt",
}
XGBOOST = [
    "treebeard/leftheavy_xgb_model.json", "treebeard/rightandleftheavy_xgb_model.json", "leaves/xgagaricus.json",
    "treelite/xgb_toy_categorical_model.json", "xgboost-go/iris_xgboost.json",
    "xgboost/xgboost-1.0.0rc1.logitraw.json", "xgboost/xgboost-1.0.0rc1.ltr.json",
    "mlserver/mushroom-xgboost-1.1.1.json", "mlserver/mushroom-xgboost-1.5.0.json", "xgboost-ruby/model.json",
    "xgboost/xgboost_scikit-1.0.0rc1.logitraw.json", "xgboost-interp/iris_xgb.json",
    "xgboost/xgboost-1.0.0-SNAPSHOT.reg.json", "xgboost/xgboost_scikit-1.0.0-SNAPSHOT.cls.json",
]
#: valid files (their library loads them) that use a feature emlc refuses -> what the one-line error names
REFUSED = {"lightgbm/temp_model.txt": "linear trees"}


@dataclass
class Reference:
    """The library's own raw margins and classes (None for regressors) of a row batch.

    ``finite``: XGBoost refuses infinite inputs (and values beyond float32) unless told.
    """

    raw: Callable[[np.ndarray], np.ndarray]
    classes: Callable[[np.ndarray], np.ndarray | None]
    finite: bool = False


def _lightgbm(path: Path) -> Reference:
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(path))
    dump = booster.dump_model(num_iteration=0)
    objective = dump["objective"].split()[0]
    # LightGBM's raw_score skips random forests' averaging (GBDT::PredictRaw sums, Predict divides
    # by the iterations before the link), so the margin its own predict links is the sum over n
    iterations = booster.current_iteration() if dump.get("average_output") else 1

    def classes(X):
        if objective == "binary":
            return (booster.predict(X) > 0.5).astype(np.int64)
        if objective.startswith("multiclass"):
            return np.argmax(booster.predict(X).reshape(len(X), -1), axis=1)
        return None

    return Reference(lambda X: booster.predict(X, raw_score=True).reshape(len(X), -1) / iterations, classes)


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
        if objective == "multi:softmax":
            return booster.predict(dmatrix(X)).astype(np.int64)
        if objective == "multi:softprob":
            return np.argmax(booster.predict(dmatrix(X)).reshape(len(X), -1), axis=1)
        return None

    return Reference(lambda X: booster.predict(dmatrix(X), output_margin=True).reshape(len(X), -1), classes,
                     finite=True)


def _category_codes(ens) -> dict[int, np.ndarray]:
    """Per categorical feature, the codes its own sets name, their neighbours and the end of each set
    (threshold_rows' fixed codes stop at 64, real bitsets reach far beyond)."""
    codes: dict[int, set[float]] = {}
    for t in ens.trees:
        for node in np.flatnonzero(t.op == Op.CAT):
            words = ens.cat_sets[t.cat[node]]
            bits = np.flatnonzero(np.unpackbits(words.astype("<u4").view(np.uint8), bitorder="little"))
            end = 32.0 * len(words)
            mine = codes.setdefault(int(t.feature[node]), set())
            mine.update(v for b in bits for v in (b - 1.0, float(b), b + 0.5, b + 1.0))
            mine.update((end - 1.0, end))
    return {f: np.array(sorted(c)) for f, c in codes.items()}


def _rows(ens, finite: bool = False) -> np.ndarray:
    """:func:`threshold_rows`, with half of each categorical column drawn from :func:`_category_codes`;
    ``finite``: infinities and values beyond float32 become the largest floats."""
    X = threshold_rows(ens)
    rng = np.random.default_rng(1)
    for f, codes in _category_codes(ens).items():
        pick = rng.random(len(X)) < 0.5
        X[pick, f] = codes[rng.integers(len(codes), size=int(pick.sum()))]
    if finite:
        big = float(np.finfo(np.float32).max)
        X = np.where(np.isnan(X), X, np.clip(X, -big, big))
    return X


CASES: dict[str, Callable[[Path], Reference]] = {
    **{f: _lightgbm for f in LIGHTGBM},
    **{f: _xgboost for f in XGBOOST},
    **{f: lambda _, text=text: _lightgbm(CORPUS / text) for f, text in LIGHTGBM_DUMPS.items()},
}


@pytest.fixture(scope="module")
def loaded():
    out = {}
    for name, reference in CASES.items():
        ens = emlc.load(CORPUS / name)
        ref = reference(CORPUS / name)
        out[name] = (ens, ref, _rows(ens, finite=ref.finite))
    return out


def test_corpus_is_documented():
    """Every file is tested and named in its folder's SOURCE.md, beside the LICENSE."""
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*") if p.name not in ("SOURCE.md", "LICENSE", "NOTICE")}
    assert files == set(CASES) | set(REFUSED)
    for f in files:
        folder = CORPUS / Path(f).parent
        assert (folder / "LICENSE").is_file() and Path(f).name in (folder / "SOURCE.md").read_text(), f


@pytest.mark.parametrize("name", sorted(CASES))
def test_interpreter_and_jit_equal_the_library(loaded, name):
    ens, ref, X = loaded[name]
    want = ref.raw(X)
    np.testing.assert_array_equal(interpret_raw(ens, X), want)
    np.testing.assert_array_equal(emlc.jit(ens).predict_raw(X).reshape(want.shape), want)
    classes = ref.classes(X)
    if classes is not None:
        np.testing.assert_array_equal(np.searchsorted(ens.classes, interpret(ens, X)), classes)


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


@pytest.mark.parametrize("name", XGBOOST)
def test_ubj_written_by_xgboost_loads_as_its_json(loaded, name, tmp_path):
    """The published JSON re-saved by the installed XGBoost as UBJSON (no UBJ model with a
    licence was found published, and binary files cannot come through the search tool):
    emlc reads the same IR from it, and its margins are the library's."""
    import xgboost as xgb

    from emlc.ir.text import print_ir

    booster = xgb.Booster()
    booster.load_model(str(CORPUS / name))
    ubj = tmp_path / "model.ubj"
    booster.save_model(str(ubj))
    assert ubj.read_bytes()[:1] == b"{" and b'"learner"' not in ubj.read_bytes()  # UBJSON, not JSON
    ens, ref, X = loaded[name]
    from_ubj = emlc.load(ubj)
    assert print_ir(from_ubj) == print_ir(ens.replace(name=from_ubj.name))
    np.testing.assert_array_equal(interpret_raw(from_ubj, X), ref.raw(X))


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_features_get_a_one_line_error(name):
    """The library loads these files; emlc names the feature it lacks, in one line, and never says corrupt."""
    with pytest.raises(emlc.EmlcError, match=REFUSED[name]) as info:
        emlc.load(CORPUS / name)
    assert "\n" not in str(info.value) and "corrupt" not in str(info.value)


def test_xgboost_legacy_binary_files_get_a_one_line_error(tmp_path):
    """XGBoost's pre-JSON binary format (which XGBoost 3 cannot read either): the error says
    how to convert, and never calls a valid file corrupt."""
    path = tmp_path / "old.model"
    path.write_bytes(b"\x00\x00\x00?" + bytes(60))
    with pytest.raises(emlc.EmlcError, match="legacy binary format") as info:
        emlc.load(path)
    assert "\n" not in str(info.value) and "corrupt" not in str(info.value)
