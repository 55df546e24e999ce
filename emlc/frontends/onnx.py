"""ONNX-ML frontend: ``TreeEnsembleClassifier`` / ``TreeEnsembleRegressor`` (ai.onnx.ml 1 and 3).

The graph must hold exactly one tree-ensemble node (identity-like wrappers such as
ZipMap after it are ignored: they do not change the scores). Comparison modes map
onto the IR's two operators: ``>=``/``>`` swap the children of ``<``/``<=``, and
``==``/``!=`` become a ``<`` node over a ``<=`` node sharing the other child.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmlcError
from ..extras import require
from ..ir.ensemble import Aggregation, Decision, Ensemble, Link, Op, Task
from .treebuild import Src, Tables, SourceTreeBuilder, build_tree

_KINDS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
_LINKS = {"NONE": Link.IDENTITY, "LOGISTIC": Link.SIGMOID, "SOFTMAX": Link.SOFTMAX}
_AGGREGATES = {"SUM": Aggregation.SUM, "AVERAGE": Aggregation.MEAN}
_ONNX_DOUBLE = 11  # onnx.TensorProto.DOUBLE


def from_onnx(model: Any) -> Ensemble:
    """Lower an ONNX ``ModelProto`` (or a path to a ``.onnx`` file) holding one tree ensemble."""
    onnx = require("onnx", "reading ONNX models (a protobuf format)")
    if isinstance(model, (str, Path)):
        try:
            model = onnx.load(str(model))
        except OSError as exc:
            raise EmlcError(f"cannot read {model}: {exc.strerror or exc}") from exc
        except Exception as exc:  # protobuf DecodeError and friends
            raise EmlcError(f"{model} is not an ONNX model ({type(exc).__name__}: {exc})") from exc
    if not hasattr(model, "graph"):
        raise EmlcError(f"cannot read an ONNX model from {type(model).__name__}; pass a ModelProto or a .onnx file")
    nodes = [n for n in model.graph.node if n.op_type in _KINDS]
    if len(nodes) != 1:
        raise EmlcError(
            f"the ONNX graph holds {len(nodes)} TreeEnsembleClassifier/Regressor nodes; emlc lowers exactly one"
        )
    node = nodes[0]
    atts = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    try:
        return _lower(node.op_type == "TreeEnsembleClassifier", atts, _n_features(model, node), _input_type(model, node))
    except (KeyError, IndexError, ValueError) as exc:
        raise EmlcError(f"malformed ONNX {node.op_type}: {type(exc).__name__} {exc}") from exc


def _n_features(model: Any, node: Any) -> int | None:
    for value in model.graph.input:
        if value.name == node.input[0]:
            dims = value.type.tensor_type.shape.dim
            if len(dims) == 2 and dims[1].dim_value > 0:
                return int(dims[1].dim_value)
    return None


def _input_type(model: Any, node: Any) -> str:
    """What onnxruntime compares: its TreeEnsemble kernels read each feature in the graph
    input's own type (``ITYPE val = x_data[feature_id]``) and compare it with the threshold
    widened to that type, so a double input is compared in float64, a float one in float32."""
    for value in model.graph.input:
        if value.name == node.input[0] and value.type.tensor_type.elem_type == _ONNX_DOUBLE:
            return "float64"
    return "float32"


def _values(atts: dict, name: str) -> list:
    """A float attribute, or its ``*_as_tensor`` twin (opset 3)."""
    if name in atts:
        return list(atts[name])
    tensor = atts.get(f"{name}_as_tensor")
    if tensor is None:
        return []
    from onnx import numpy_helper

    return numpy_helper.to_array(tensor).ravel().tolist()


def _text(values: list) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _lower(classifier: bool, atts: dict, n_features: int | None, input_type: str) -> Ensemble:
    prefix = "class" if classifier else "target"
    tree_ids = list(atts["nodes_treeids"])
    node_ids = list(atts["nodes_nodeids"])
    modes = _text(atts["nodes_modes"])
    features = list(atts["nodes_featureids"])
    # float attributes hold float32 numbers; nodes_values_as_tensor may hold doubles
    thresholds = np.asarray(_values(atts, "nodes_values"), dtype=np.float64)
    true_ids = list(atts["nodes_truenodeids"])
    false_ids = list(atts["nodes_falsenodeids"])
    tracks = list(atts.get("nodes_missing_value_tracks_true", [])) or [0] * len(modes)
    out_ids = list(atts[f"{prefix}_ids"])
    weights = _values(atts, f"{prefix}_weights")
    link_name = _text([atts.get("post_transform", b"NONE")])[0]
    if link_name not in _LINKS:
        raise EmlcError(f"ONNX post_transform '{link_name}' is not supported; supported: {', '.join(_LINKS)}")
    aggregate = _text([atts.get("aggregate_function", b"SUM")])[0]
    if aggregate not in _AGGREGATES:
        raise EmlcError(f"ONNX aggregate_function '{aggregate}' is not supported; supported: SUM, AVERAGE")

    if classifier:
        labels = list(atts.get("classlabels_int64s", [])) or _text(atts.get("classlabels_strings", []))
        n_classes = len(labels)
        binary = n_classes == 2 and len(set(out_ids)) == 1
        n_outputs = 1 if binary else n_classes
        out_ids = [0] * len(out_ids) if binary else out_ids
    else:
        n_outputs = int(atts.get("n_targets", 1))
    if out_ids and not 0 <= min(out_ids) <= max(out_ids) < n_outputs:
        raise EmlcError(f"ONNX {prefix}_ids reach {max(out_ids)}, beyond the {n_outputs} outputs")

    leaf_rows: dict[tuple[int, int], np.ndarray] = {}
    for tid, nid, k, w in zip(atts[f"{prefix}_treeids"], atts[f"{prefix}_nodeids"], out_ids, weights):
        row = leaf_rows.setdefault((tid, nid), np.zeros(n_outputs))
        row[k] += w
    index = {(t, n): i for i, (t, n) in enumerate(zip(tree_ids, node_ids))}
    n_features = n_features or (max(features) + 1 if features else 1)
    tables = Tables()

    def emit_for(tid: int):
        def emit(b: SourceTreeBuilder, nid: int) -> tuple[int, list[int]]:
            i = index.get((tid, nid))
            if i is None:
                raise EmlcError(f"ONNX tree {tid} refers to node {nid}, which does not exist")
            mode = modes[i]
            if mode == "LEAF":
                return b.leaf(tables.add_leaf(leaf_rows.get((tid, nid), np.zeros(n_outputs)))), []
            f, t, yes, no = int(features[i]), float(thresholds[i]), true_ids[i], false_ids[i]
            if not 0 <= f < n_features:
                raise EmlcError(f"ONNX tree {tid} node {nid} splits on feature {f}, outside the {n_features} inputs")
            nan_true = bool(tracks[i])
            simple = {
                "BRANCH_LEQ": (Op.LE, yes, no, nan_true),
                "BRANCH_LT": (Op.LT, yes, no, nan_true),
                "BRANCH_GT": (Op.LE, no, yes, not nan_true),
                "BRANCH_GTE": (Op.LT, no, yes, not nan_true),
            }
            if mode in simple:
                op, left, right, dl = simple[mode]
                return b.add(op, feature=f, threshold=t, default_left=dl, left=Src(left), right=Src(right)), [yes, no]
            if mode not in ("BRANCH_EQ", "BRANCH_NEQ"):
                raise EmlcError(f"ONNX node mode '{mode}' is not supported")
            equal, other = (yes, no) if mode == "BRANCH_EQ" else (no, yes)
            nan_equal = nan_true == (mode == "BRANCH_EQ")  # NaN takes the tracked branch, whatever the mode
            below = b.add(Op.LT, feature=f, threshold=t, default_left=False, left=Src(other))
            b.link(below, "right", b.add(Op.LE, feature=f, threshold=t, default_left=nan_equal, left=Src(equal), right=Src(other)))
            return below, [yes, no]

        return emit

    roots = sorted({t for t in tree_ids})
    trees = tuple(build_tree(min(n for t, n in index if t == tid), emit_for(tid), "float64", f"ONNX tree {tid}") for tid in roots)
    base = np.asarray(_values(atts, "base_values") or np.zeros(n_outputs), dtype=np.float64)
    if base.size != n_outputs:
        raise EmlcError(f"ONNX base_values has {base.size} values for {n_outputs} outputs")
    if _AGGREGATES[aggregate] is Aggregation.SUM and base.any():
        # onnxruntime and the ONNX reference sum the trees in float32 from 0 and add
        # base_values last (the IR starts a sum from its base): a last one-leaf tree holding
        # them keeps that order, so every float32 sum rounds as theirs does
        last = build_tree(0, lambda b, _: (b.leaf(tables.add_leaf(base)), []), str(trees[0].threshold.dtype), "ONNX base_values")
        trees, base = (*trees, last), np.zeros(n_outputs)
    link = _LINKS[link_name]
    return Ensemble(
        n_features=n_features,
        task=Task.CLASSIFICATION if classifier else Task.REGRESSION,
        trees=trees,
        tree_output=np.zeros(len(trees), dtype=np.int32),
        leaves=tables.leaves(n_outputs, "float32"),
        n_outputs=n_outputs,
        aggregation=_AGGREGATES[aggregate],
        base_score=base,
        link=link,
        link_params=(1.0,) if link is Link.SIGMOID else (),
        decision=Decision.ARGMAX if classifier else Decision.NONE,
        classes=np.asarray(labels) if classifier else None,
        accum_dtype="float32",
        input_type=input_type,
        name="onnx",
    )


__all__ = ["from_onnx"]
