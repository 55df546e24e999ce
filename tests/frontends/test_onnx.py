"""ONNX frontend: graphs built with onnx.helper from trained forests, checked against the source and onnx.reference."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor  # noqa: E402

from emlc.errors import EmlcError  # noqa: E402
from emlc.frontends.onnx import from_onnx  # noqa: E402
from emlc.ir import interpret, interpret_proba, interpret_value  # noqa: E402
from emlc.ir.verify import verify  # noqa: E402

MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT", "BRANCH_GTE", "BRANCH_EQ", "BRANCH_NEQ"]


def forest_attributes(forest, classifier: bool) -> dict:
    """The TreeEnsemble attributes of a scikit-learn forest (x <= t goes to the true child)."""
    a = {k: [] for k in ("treeids", "nodeids", "featureids", "values", "modes", "true", "false")}
    leaf = {k: [] for k in ("treeids", "nodeids", "ids", "weights")}
    for t, est in enumerate(forest.estimators_):
        tr = est.tree_
        for n in range(tr.node_count):
            is_leaf = tr.children_left[n] < 0
            a["treeids"].append(t)
            a["nodeids"].append(n)
            a["featureids"].append(0 if is_leaf else int(tr.feature[n]))
            a["values"].append(0.0 if is_leaf else float(np.float32(tr.threshold[n])))
            a["modes"].append("LEAF" if is_leaf else "BRANCH_LEQ")
            a["true"].append(0 if is_leaf else int(tr.children_left[n]))
            a["false"].append(0 if is_leaf else int(tr.children_right[n]))
            if is_leaf:
                values = tr.value[n][0]
                values = values / values.sum() / len(forest.estimators_) if classifier else values
                for k, w in enumerate(values):
                    leaf["treeids"].append(t)
                    leaf["nodeids"].append(n)
                    leaf["ids"].append(k)
                    leaf["weights"].append(float(w))
    prefix = "class" if classifier else "target"
    out = dict(
        nodes_treeids=a["treeids"], nodes_nodeids=a["nodeids"], nodes_featureids=a["featureids"],
        nodes_values=a["values"], nodes_modes=a["modes"], nodes_truenodeids=a["true"],
        nodes_falsenodeids=a["false"], post_transform="NONE",
        **{f"{prefix}_treeids": leaf["treeids"], f"{prefix}_nodeids": leaf["nodeids"],
           f"{prefix}_ids": leaf["ids"], f"{prefix}_weights": leaf["weights"]},
    )
    if classifier:
        out["classlabels_int64s"] = [int(c) for c in forest.classes_]
    else:
        out.update(n_targets=1, aggregate_function="AVERAGE")
    return out


def model(op: str, n_features: int, n_outputs: int, x_type: int = TensorProto.FLOAT, **attributes):
    node = helper.make_node(op, ["X"], ["label", "scores"] if op.endswith("Classifier") else ["Y"],
                            domain="ai.onnx.ml", **attributes)
    outputs = (
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, n_outputs])]
        if op.endswith("Classifier") else [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, n_outputs])]
    )
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", x_type, [None, n_features])], outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])


def rows(n=300, f=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, f)).astype(np.float32)


def test_random_forest_classifier_matches_sklearn_and_reference():
    X = rows()
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    rf = RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0).fit(X, y)
    m = model("TreeEnsembleClassifier", 4, 3, **forest_attributes(rf, True))
    ens = verify(from_onnx(m))
    np.testing.assert_allclose(interpret_proba(ens, X), rf.predict_proba(X), rtol=1e-5, atol=1e-6)
    labels, scores = ReferenceEvaluator(m).run(None, {"X": X})
    np.testing.assert_allclose(interpret_value(ens, X), scores, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(interpret(ens, X), labels)


def test_random_forest_regressor_average_and_file(tmp_path):
    X = rows(seed=1)
    y = X[:, 0] * 2 + X[:, 3]
    rf = RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0).fit(X, y)
    m = model("TreeEnsembleRegressor", 4, 1, **forest_attributes(rf, False))
    onnx.save(m, tmp_path / "m.onnx")
    ens = verify(from_onnx(tmp_path / "m.onnx"))
    np.testing.assert_allclose(interpret(ens, X), rf.predict(X), rtol=1e-5)
    (ref,) = ReferenceEvaluator(m).run(None, {"X": X})
    np.testing.assert_allclose(interpret_value(ens, X), ref, rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tracks", [0, 1])
def test_every_mode_with_missing_values(mode, tracks):
    t = 0.25
    attributes = dict(
        nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[1, 0, 0],
        nodes_values=[t, 0.0, 0.0], nodes_modes=[mode, "LEAF", "LEAF"], nodes_truenodeids=[1, 0, 0],
        nodes_falsenodeids=[2, 0, 0], nodes_missing_value_tracks_true=[tracks, 0, 0],
        target_treeids=[0, 0], target_nodeids=[1, 2], target_ids=[0, 0], target_weights=[1.5, -2.0],
        n_targets=1, base_values=[0.25],
    )
    m = model("TreeEnsembleRegressor", 2, 1, **attributes)
    ens = verify(from_onnx(m))
    X = np.zeros((7, 2), dtype=np.float32)
    X[:, 1] = [t, np.nextafter(np.float32(t), 0), np.nextafter(np.float32(t), 1), np.nan, -5, 5, 0]
    (ref,) = ReferenceEvaluator(m).run(None, {"X": X})
    np.testing.assert_allclose(interpret_value(ens, X), ref.reshape(-1, 1), rtol=1e-6)


def test_errors():
    base = dict(
        nodes_treeids=[0], nodes_nodeids=[0], nodes_featureids=[0], nodes_values=[0.0],
        nodes_modes=["LEAF"], nodes_truenodeids=[0], nodes_falsenodeids=[0],
        target_treeids=[0], target_nodeids=[0], target_ids=[0], target_weights=[1.0], n_targets=1,
    )
    with pytest.raises(EmlcError, match="post_transform 'PROBIT' is not supported"):
        from_onnx(model("TreeEnsembleRegressor", 1, 1, **base, post_transform="PROBIT"))
    with pytest.raises(EmlcError, match="aggregate_function 'MAX'"):
        from_onnx(model("TreeEnsembleRegressor", 1, 1, **base, aggregate_function="MAX"))
    bad = dict(base, nodes_modes=["BRANCH_LEQ"], nodes_truenodeids=[5], nodes_falsenodeids=[6])
    with pytest.raises(EmlcError, match="refers to node 5"):
        from_onnx(model("TreeEnsembleRegressor", 1, 1, **bad))
    with pytest.raises(EmlcError, match="cannot read an ONNX model from int"):
        from_onnx(3)
    with pytest.raises(EmlcError, match="0 TreeEnsembleClassifier/Regressor nodes"):
        from_onnx(helper.make_model(helper.make_graph([], "g", [], [])))


@pytest.mark.parametrize("as_tensor", [False, True])
def test_double_inputs_are_compared_in_float64(as_tensor):
    """onnxruntime reads features in the graph input's type: a double row between two float32
    numbers around a threshold goes the way float64 sends it (a float32 cast would move it)."""
    t = 0.1 if as_tensor else float(np.float32(0.1))
    values = {"nodes_values_as_tensor": numpy_helper.from_array(np.array([t, 0.0, 0.0]))} if as_tensor else \
        {"nodes_values": [t, 0.0, 0.0]}
    m = model("TreeEnsembleRegressor", 1, 1, x_type=TensorProto.DOUBLE, nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2],
              nodes_featureids=[0, 0, 0], nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"], nodes_truenodeids=[1, 0, 0],
              nodes_falsenodeids=[2, 0, 0], target_treeids=[0, 0], target_nodeids=[1, 2], target_ids=[0, 0],
              nodes_missing_value_tracks_true=[0, 0, 0], target_weights=[1.0, -1.0], n_targets=1, **values)
    ens = verify(from_onnx(m))
    assert ens.input_type == "float64" and from_onnx(model("TreeEnsembleRegressor", 4, 1, **forest_attributes(
        RandomForestRegressor(n_estimators=1, max_depth=2, random_state=0).fit(rows(), rows()[:, 0]), False))).input_type == "float32"
    f = np.float32(t)
    X = np.array([[t], [np.nextafter(t, 1)], [np.nextafter(t, -1)], [(float(f) + float(np.nextafter(f, np.float32(1)))) / 2],
                  [(float(f) + float(np.nextafter(f, np.float32(-1)))) / 2], [np.nan]])
    want = np.where(X[:, 0] <= t, 1.0, -1.0)
    assert len(set(want[:5])) == 2
    np.testing.assert_array_equal(interpret_value(ens, X).ravel(), np.r_[want[:5], -1.0])
    if not as_tensor:  # onnx's reference evaluator reads no *_as_tensor thresholds
        (ref,) = ReferenceEvaluator(m).run(None, {"X": X})
        np.testing.assert_array_equal(interpret_value(ens, X).ravel(), ref.ravel())


def test_base_values_are_added_after_the_trees_in_float32():
    """onnxruntime and the ONNX reference sum the trees in float32 from zero and add
    base_values last; starting the sum from them rounds differently (1 ulp on most rows of
    XGBoost-to-ONNX exports). Two stumps whose float32 sum depends on that order."""
    leaves = [0.1, 1e-8, 0.3, 3e-8]
    attributes = dict(
        nodes_treeids=[0, 0, 0, 1, 1, 1], nodes_nodeids=[0, 1, 2, 0, 1, 2], nodes_featureids=[0, 0, 0, 1, 0, 0],
        nodes_values=[0.0] * 6, nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"] * 2,
        nodes_truenodeids=[1, 0, 0, 1, 0, 0], nodes_falsenodeids=[2, 0, 0, 2, 0, 0],
        target_treeids=[0, 0, 1, 1], target_nodeids=[1, 2, 1, 2], target_ids=[0] * 4, target_weights=leaves,
        n_targets=1, base_values=[1000.5],
    )
    m = model("TreeEnsembleRegressor", 2, 1, **attributes)
    ens = verify(from_onnx(m))
    X = np.array([[a, b] for a in (-1, 1) for b in (-1, 1)], dtype=np.float32)
    (ref,) = ReferenceEvaluator(m).run(None, {"X": X})
    np.testing.assert_array_equal(interpret_value(ens, X).astype(np.float32), ref.reshape(-1, 1))
