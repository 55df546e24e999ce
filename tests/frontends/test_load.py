"""``emlc.load``: every object and file kind reaches the right frontend, and bad input is refused."""

from __future__ import annotations

import json
import pickle

import joblib
import lightgbm as lgb
import numpy as np
import pytest
import skops.io as sio
import xgboost as xgb
from onnx import TensorProto, helper
from sklearn import ensemble, pipeline, preprocessing, tree

import emlc
from emlc.errors import EmlcError
from emlc.frontends.lightgbm import from_lightgbm
from emlc.frontends.sklearn import from_sklearn
from emlc.frontends.xgboost import from_xgboost
from emlc.ir.text import print_ir

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(int)
X_CAT = np.column_stack([RNG.integers(0, 5, 200), X[:, 1:]]).astype(float)


def same(a: emlc.Ensemble, b: emlc.Ensemble) -> bool:
    return print_ir(a) == print_ir(b)


@pytest.fixture(scope="module")
def forest():
    return ensemble.RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0).fit(X, Y)


@pytest.fixture(scope="module")
def booster():
    return xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=Y), num_boost_round=3)


@pytest.fixture(scope="module")
def lgbm():
    return lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1}, lgb.Dataset(X, label=Y), num_boost_round=3)


# --- objects ------------------------------------------------------------------------


def test_sklearn_object(forest) -> None:
    ens = emlc.load(forest)
    assert same(ens, from_sklearn(forest))
    np.testing.assert_array_equal(emlc.interpret(ens, X), forest.predict(X))


def test_ensemble_passes_through(forest) -> None:
    ens = from_sklearn(forest)
    assert emlc.load(ens) is ens


def test_xgboost_objects(booster) -> None:
    clf = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, Y)
    assert same(emlc.load(booster), from_xgboost(booster))
    assert same(emlc.load(clf), from_xgboost(clf))
    np.testing.assert_array_equal(emlc.interpret(emlc.load(clf), X), clf.predict(X))


def test_lightgbm_objects(lgbm) -> None:
    clf = lgb.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1).fit(X, Y)
    assert same(emlc.load(lgbm), from_lightgbm(lgbm))
    np.testing.assert_array_equal(emlc.interpret(emlc.load(clf), X), clf.predict(X))


@pytest.mark.parametrize("obj", [object(), [1, 2], np.zeros(3)], ids=["object", "list", "ndarray"])
def test_unknown_object(obj) -> None:
    with pytest.raises(EmlcError, match="cannot load a .*pass a fitted scikit-learn, XGBoost or LightGBM model"):
        emlc.load(obj)


# --- files --------------------------------------------------------------------------


def test_emlir_file_round_trip(forest, tmp_path) -> None:
    ens = from_sklearn(forest)
    path = tmp_path / "m.emlir"
    path.write_text(print_ir(ens))
    assert same(emlc.load(path), ens)
    assert same(emlc.load(str(path)), ens)


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_xgboost_files(booster, tmp_path, suffix: str) -> None:
    path = tmp_path / f"m{suffix}"
    booster.save_model(path)
    ens = emlc.load(path)
    assert same(ens, from_xgboost(booster))
    np.testing.assert_allclose(emlc.interpret_value(ens, X)[:, 0], booster.predict(xgb.DMatrix(X)), rtol=1e-6)


def test_lightgbm_text_and_json_dump(lgbm, tmp_path) -> None:
    text = tmp_path / "m.txt"
    lgbm.save_model(text)
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(lgbm.dump_model()))
    for path in (text, dump):
        ens = emlc.load(path)
        np.testing.assert_allclose(emlc.interpret_value(ens, X)[:, 0], lgbm.predict(X), rtol=1e-6)


def test_onnx_file(tmp_path) -> None:
    """A one-split ONNX-ML regressor: x0 <= 0.5 gives 1.0, else 2.0."""
    node = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
        nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0],
        nodes_values=[0.5, 0.0, 0.0], nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"],
        nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 0, 0],
        target_treeids=[0, 0], target_nodeids=[1, 2], target_ids=[0, 0], target_weights=[1.0, 2.0],
        n_targets=1,
    )
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    rows = np.array([[0.0, 9.0], [0.5, 9.0], [0.6, 9.0]])
    np.testing.assert_array_equal(emlc.interpret(emlc.load(path), rows), [1.0, 1.0, 2.0])
    np.testing.assert_array_equal(emlc.interpret(emlc.load(model), rows), [1.0, 1.0, 2.0])


@pytest.mark.parametrize(
    "est",
    [
        ensemble.RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0),
        ensemble.GradientBoostingClassifier(n_estimators=3, random_state=0),
        ensemble.HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]),
        ensemble.IsolationForest(n_estimators=3, random_state=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_skops_files(est, tmp_path) -> None:
    est.fit(X_CAT, Y)
    path = tmp_path / "m.skops"
    sio.dump(est, path)
    ens = emlc.load(path)
    assert same(ens, from_sklearn(est))
    np.testing.assert_array_equal(emlc.interpret(ens, X_CAT), est.predict(X_CAT))


class Payload:
    """A type no skops policy trusts; constructing it would prove the file was loaded."""

    built = False

    def __init__(self) -> None:
        self.value = 1

    def __setstate__(self, state) -> None:
        Payload.built = True


def test_skops_with_foreign_type_is_refused_unloaded(tmp_path) -> None:
    est = tree.DecisionTreeClassifier(max_depth=2).fit(X, Y)
    est.payload_ = Payload()
    path = tmp_path / "m.skops"
    sio.dump(est, path)
    with pytest.raises(EmlcError, match=r"holds types emlc does not lower.*Payload"):
        emlc.load(path)
    assert not Payload.built
    sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert Payload.built, "the payload must be able to reveal a load"


def test_skops_pipeline_reaches_the_frontend_error(tmp_path) -> None:
    pipe = pipeline.make_pipeline(preprocessing.StandardScaler(), tree.DecisionTreeClassifier()).fit(X, Y)
    path = tmp_path / "p.skops"
    sio.dump(pipe, path)
    with pytest.raises(EmlcError, match="unsupported scikit-learn estimator Pipeline"):
        emlc.load(path)


class _Trap:
    """Unpickling this creates a marker file: the proof that a refused pickle was not run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".pkl", ".joblib", ".pickle", ".bin"])
def test_pickle_refused_without_trust_and_never_unpickled(tmp_path, suffix: str) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / f"m{suffix}"
    path.write_bytes(pickle.dumps(_Trap(str(marker))))
    with pytest.raises(EmlcError, match=r"refusing to load pickle.*arbitrary code.*pass trust_pickle=True.*skops") as e:
        emlc.load(path)
    assert "--trust-pickle" not in str(e.value)  # the API caller has no command-line flag
    assert not marker.exists()
    with pytest.raises(EmlcError, match="cannot load a _io.TextIOWrapper"):
        emlc.load(path, trust_pickle=True)
    assert marker.exists(), "the trap must be able to reveal an unpickling"


@pytest.mark.parametrize("dump", ["joblib", "pickle"])
def test_pickle_loads_with_trust(forest, tmp_path, dump: str) -> None:
    path = tmp_path / ("m.joblib" if dump == "joblib" else "m.pkl")
    if dump == "joblib":
        joblib.dump(forest, path)
    else:
        path.write_bytes(pickle.dumps(forest))
    assert same(emlc.load(path, trust_pickle=True), from_sklearn(forest))


def test_format_sniffed_without_a_known_suffix(forest, booster, lgbm, tmp_path) -> None:
    files = {
        "ir.model": print_ir(from_sklearn(forest)).encode(),
        "xgb.model": bytes(booster.save_raw("json")),
        "xgb_ubj.model": bytes(booster.save_raw("ubj")),
        "lgb.model": lgbm.model_to_string().encode(),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    sio.dump(forest, tmp_path / "sk.zip")
    assert same(emlc.load(tmp_path / "ir.model"), from_sklearn(forest))
    assert same(emlc.load(tmp_path / "xgb.model"), from_xgboost(booster))
    assert same(emlc.load(tmp_path / "xgb_ubj.model"), from_xgboost(booster))
    assert same(emlc.load(tmp_path / "lgb.model"), from_lightgbm(lgbm))
    assert same(emlc.load(tmp_path / "sk.zip"), from_sklearn(forest))


# --- broken files -------------------------------------------------------------------


def test_missing_file(tmp_path) -> None:
    with pytest.raises(EmlcError, match="does not exist"):
        emlc.load(tmp_path / "nope.json")


def test_directory(tmp_path) -> None:
    with pytest.raises(EmlcError, match="is not a file"):
        emlc.load(tmp_path)


@pytest.mark.parametrize("name", ["m.json", "m.skops", "m.pkl", "m.emlir", "m.txt", "m.onnx", "m"])
@pytest.mark.parametrize("content", [b"", b"  \n\t"], ids=["zero_bytes", "blank"])
def test_empty_file(tmp_path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(EmlcError, match="is empty"):
        emlc.load(path, trust_pickle=True)


def test_unreadable_file(forest, tmp_path, monkeypatch) -> None:
    path = tmp_path / "m.skops"
    sio.dump(forest, path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(path), "open", denied)  # chmod does not stop root
    with pytest.raises(EmlcError, match="cannot read model file .*Permission denied"):
        emlc.load(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.dat", b"\x01\x02garbage", "cannot tell the format"),
        ("m.json", b'{"learner": ', "not valid JSON"),
        ("m.json", b'{"hello": 1}', "neither an XGBoost model .* nor a LightGBM"),
        ("m.json", b"\xff\xfe\x00", "not valid JSON"),
        ("m.skops", b"PK\x03\x04 truncated zip", "cannot read skops file"),
        ("m.skops", b"not a zip at all", "cannot read skops file"),
        ("m.emlir", b"emlc-ir 1\nmodel", "m.emlir"),
    ],
    ids=["unknown", "truncated_json", "foreign_json", "binary_json", "truncated_skops", "bad_skops", "bad_emlir"],
)
def test_corrupt_files(tmp_path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(EmlcError, match=message):
        emlc.load(path)


def test_corrupt_pickle_with_trust(tmp_path) -> None:
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(b"x")[:-3])
    with pytest.raises(EmlcError, match="cannot unpickle"):
        emlc.load(path, trust_pickle=True)
