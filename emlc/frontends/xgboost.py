"""XGBoost frontend: Booster, scikit-learn wrappers, and saved ``.json`` / ``.ubj`` models.

Files are parsed from XGBoost's JSON model schema directly (UBJSON through a small
bounded decoder), so loading a file needs no xgboost install. Library objects are
serialised to that same JSON first: one code path for every input.

XGBoost predicts in float32: thresholds compare with ``x < t`` in float32 and leaf
values accumulate in float32 starting from the base margin, so the IR does too.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmlcError
from ..limits import MAX_FEATURES, MAX_OUTPUTS, check_count
from ..ir.ensemble import Aggregation, Decision, Ensemble, Link, LinkMath, Op, Task
from .treebuild import Src, Tables, TreeBuilder, build_tree

_LOGISTIC = {"binary:logistic", "binary:logitraw", "reg:logistic"}
_EXP = {"count:poisson", "reg:gamma", "reg:tweedie"}
_IDENTITY = {
    "reg:squarederror", "reg:linear", "reg:absoluteerror", "reg:pseudohubererror",
    "reg:squaredlogerror", "reg:quantileerror",
}
_SOFTMAX = {"multi:softprob", "multi:softmax"}
_RANK = {"rank:pairwise", "rank:ndcg", "rank:map"}
SUPPORTED_OBJECTIVES = tuple(sorted(_LOGISTIC | _EXP | _IDENTITY | _SOFTMAX | _RANK))
#: XGBoost treats categories at or above this as invalid (float32 integers end here).
_MAX_CAT = 1 << 24


def from_xgboost(model: Any) -> Ensemble:
    """Lower an XGBoost model (Booster, XGBClassifier/Regressor/Ranker, or a file path).

    Predictions follow what the object's ``predict`` does by default: a Booster uses
    every tree, a scikit-learn wrapper (or a file it saved) stops at
    ``best_iteration`` after early stopping.
    """
    if isinstance(model, (str, Path)):
        return _from_document(_read_file(Path(model)), sklearn=None)
    if hasattr(model, "get_booster"):
        try:
            booster = model.get_booster()
        except Exception as exc:  # NotFittedError and friends, raised by xgboost
            raise EmlcError(f"the XGBoost estimator is not fitted ({exc}); call fit() first") from exc
        bases = {cls.__name__ for cls in type(model).__mro__}
        kind = "classifier" if "XGBClassifier" in bases else "ranker" if "XGBRanker" in bases else "regressor"
        return _from_document(_booster_json(booster), sklearn=kind)
    if hasattr(model, "save_raw"):
        return _from_document(_booster_json(model), sklearn=None)
    raise EmlcError(
        f"cannot read an XGBoost model from {type(model).__name__}; pass a Booster, "
        "an XGBClassifier/XGBRegressor/XGBRanker, or a .json/.ubj file"
    )


def from_xgboost_document(doc: dict) -> Ensemble:
    """Lower an already parsed XGBoost JSON model (a dict with a ``learner``)."""
    return _from_document(doc, sklearn=None)


def _booster_json(booster: Any) -> dict:
    return json.loads(bytes(booster.save_raw("json")))


def _read_file(path: Path) -> dict:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmlcError(f"cannot read {path}: {exc.strerror or exc}") from exc
    is_json = path.suffix.lower() == ".json" or (
        path.suffix.lower() != ".ubj" and data.lstrip()[:2] in (b'{"', b"{\n", b"{ ")
    )
    if not data.lstrip()[:1] == b"{":
        raise EmlcError(f"{path} is not an XGBoost model; expected a .json or .ubj file from Booster.save_model")
    try:
        doc = json.loads(data) if is_json else decode_ubjson(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        kind = "JSON" if is_json else "UBJSON"
        raise EmlcError(f"{path} is not a valid XGBoost {kind} model: {exc}") from exc
    if not isinstance(doc, dict) or "learner" not in doc:
        raise EmlcError(f"{path} is not an XGBoost model (no 'learner' object); save it with Booster.save_model('model.json')")
    return doc


def _from_document(doc: dict, sklearn: str | None) -> Ensemble:
    try:
        return _convert(doc, sklearn)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise EmlcError(f"malformed XGBoost model: {type(exc).__name__} {exc}") from exc


def _convert(doc: dict, sklearn: str | None) -> Ensemble:
    learner = doc["learner"]
    attributes = learner.get("attributes", {})
    if sklearn is None and "scikit_learn" in attributes:
        sklearn = json.loads(attributes["scikit_learn"]).get("_estimator_type", "regressor")
    booster = learner["gradient_booster"]
    name = booster["name"]
    weights = None
    if name == "dart":
        weights = np.asarray(booster["weight_drop"], dtype=np.float32)
        booster = booster["gbtree"]
    elif name != "gbtree":
        raise EmlcError(f"XGBoost booster '{name}' is not supported; train with booster='gbtree' or 'dart'")
    gbm = booster["model"]
    params = learner["learner_model_param"]
    if int(params.get("num_target", "1")) > 1:
        raise EmlcError("multi-output XGBoost models (num_target > 1) are not supported; train one model per target")
    objective = learner["objective"]["name"]
    if objective not in SUPPORTED_OBJECTIVES:
        raise EmlcError(
            f"XGBoost objective '{objective}' is not supported; supported: {', '.join(SUPPORTED_OBJECTIVES)}"
        )
    n_features = check_count(params["num_feature"], MAX_FEATURES, "num_feature", "XGBoost model")
    n_class = check_count(params.get("num_class", "0"), MAX_OUTPUTS, "num_class", "XGBoost model")
    n_outputs = max(n_class, 1)

    trees = gbm["trees"]
    groups = [int(g) for g in gbm["tree_info"]]
    indptr = gbm.get("iteration_indptr")
    if indptr is None:
        per_iter = int(gbm["gbtree_model_param"].get("num_parallel_tree", "1")) * n_outputs
        indptr = list(range(0, len(trees) + 1, per_iter))
    end = len(trees)
    if sklearn and "best_iteration" in attributes:
        end = int(indptr[min(int(attributes["best_iteration"]) + 1, len(indptr) - 1)])

    tables = Tables()
    ir_trees = []
    for i in range(end):
        scale = None if weights is None else weights[i]
        ir_trees.append(_tree(trees[i], i, n_features, scale, tables))
    base = _base_margin(params["base_score"], objective, n_outputs)

    if objective in _SOFTMAX:
        task, link, decision = Task.CLASSIFICATION, Link.SOFTMAX, Decision.ARGMAX
    elif objective.startswith("binary:"):
        task, decision = Task.CLASSIFICATION, Decision.GT_HALF
        link = Link.SIGMOID if objective == "binary:logistic" else Link.IDENTITY
    else:
        task = Task.RANKING if objective in _RANK or sklearn == "ranker" else Task.REGRESSION
        decision = Decision.NONE
        link = Link.SIGMOID if objective in _LOGISTIC else Link.EXP if objective in _EXP else Link.IDENTITY
    classes = np.arange(max(n_class, 2)) if task is Task.CLASSIFICATION else None
    return Ensemble(
        n_features=n_features,
        task=task,
        trees=tuple(ir_trees),
        tree_output=np.asarray(groups[:end], dtype=np.int32) if n_class else np.zeros(end, dtype=np.int32),
        leaves=tables.leaves(1, "float32"),
        n_outputs=n_outputs,
        aggregation=Aggregation.SUM,
        base_score=base,
        link=link,
        link_params=(1.0,) if link is Link.SIGMOID else (),
        link_math=LinkMath.XGBOOST,
        decision=decision,
        classes=classes,
        accum_dtype="float32",
        input_type="float32",
        cat_sets=tables.cat_sets(),
        feature_names=tuple(learner.get("feature_names") or ()),
        name="xgboost",
    )


def _base_margin(text: Any, objective: str, n_outputs: int) -> np.ndarray:
    """``base_score`` (a probability or mean; a margin for logitraw and softmax) as XGBoost's float32 margin."""
    if isinstance(text, str):
        values = [float(v) for v in text.strip().strip("[]").split(",") if v.strip()]
    else:
        values = [float(v) for v in np.atleast_1d(text)]
    base = np.asarray(values, dtype=np.float32)
    if base.size == 1:
        base = np.repeat(base, n_outputs)
    if base.size != n_outputs:
        raise EmlcError(f"XGBoost base_score has {base.size} values for {n_outputs} outputs; the model is corrupt")
    # XGBoost's logf of a float32 argument: a float64 log rounded once to float32.
    with np.errstate(divide="ignore"):
        if objective in _LOGISTIC and objective != "binary:logitraw":
            base = -np.log((np.float32(1) / base - np.float32(1)).astype(np.float64))
        elif objective in _EXP:
            base = np.log(base.astype(np.float64))
    if not np.all(np.isfinite(base)):
        raise EmlcError(f"XGBoost base_score {values} is outside the range of objective '{objective}'")
    return base.astype(np.float32).astype(np.float64)


def _tree(tree: dict, index: int, n_features: int, scale: np.float32 | None, tables: Tables):
    """One XGBoost tree; categorical nodes become IR CAT nodes with children swapped."""
    what = f"XGBoost tree {index}"
    if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
        raise EmlcError(f"{what} has vector leaves (multi_strategy='multi_output_tree'), which are not supported")
    left = tree["left_children"]
    right = tree["right_children"]
    feature = tree["split_indices"]
    cond = np.asarray(tree["split_conditions"], dtype=np.float32)
    default_left = tree["default_left"]
    split_type = tree.get("split_type") or [0] * len(left)
    cats = {}
    segments = tree.get("categories_segments", [])
    sizes = tree.get("categories_sizes", [])
    values = tree.get("categories", [])
    for k, node in enumerate(tree.get("categories_nodes", [])):
        cats[int(node)] = [int(c) for c in values[int(segments[k]) : int(segments[k]) + int(sizes[k])]]
    n = len(left)

    def emit(b: TreeBuilder, s: int) -> tuple[int, list[int]]:
        if not 0 <= s < n:
            raise EmlcError(f"{what}: child index {s} is outside its {n} nodes; the model is corrupt")
        lo, hi = int(left[s]), int(right[s])
        if lo == -1:
            value = cond[s] if scale is None else cond[s] * scale
            return b.leaf(tables.add_leaf([value])), []
        f = int(feature[s])
        if not 0 <= f < n_features:
            raise EmlcError(f"{what}: split feature {f} is outside the model's {n_features} features")
        dl = bool(default_left[s])
        if int(split_type[s]) == 0:
            return b.add(Op.LT, feature=f, threshold=float(cond[s]), default_left=dl, left=Src(lo), right=Src(hi)), [lo, hi]
        members = [c for c in cats.get(s, []) if 0 <= c < _MAX_CAT]
        cat = dict(op=Op.CAT, feature=f, cat=tables.add_set(members), default_left=not dl, left=Src(hi), right=Src(lo))
        if 0 not in members:
            return b.add(**cat), [lo, hi]
        # XGBoost calls (-1, 0) an invalid category (goes left); the IR truncates it to 0.
        guard = b.add(Op.LT, feature=f, threshold=0.0, default_left=False, left=Src(lo))
        b.link(guard, "right", b.add(**cat))
        return guard, [lo, hi]

    return build_tree(0, emit, "float32", what)


_UBJ_SCALARS = {
    b"i": (">b", 1), b"U": (">B", 1), b"I": (">h", 2), b"l": (">i", 4), b"L": (">q", 8),
    b"d": (">f", 4), b"D": (">d", 8),
}
_UBJ_MAX_DEPTH = 64


def decode_ubjson(data: bytes) -> Any:
    """Decode the UBJSON subset XGBoost writes; bounded and strict (ValueError on anything odd)."""
    value, pos = _ubj_value(memoryview(data), 0, None, 0)
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} trailing bytes after the document")
    return value


def _ubj_take(data: memoryview, pos: int, n: int) -> tuple[memoryview, int]:
    if n < 0 or pos + n > len(data):
        raise ValueError(f"truncated at byte {pos} (needs {n} more bytes)")
    return data[pos : pos + n], pos + n


def _ubj_int(data: memoryview, pos: int) -> tuple[int, int]:
    marker, pos = _ubj_take(data, pos, 1)
    value, pos = _ubj_value(data, pos, bytes(marker), _UBJ_MAX_DEPTH)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected an integer length before byte {pos}")
    return value, pos


def _ubj_value(data: memoryview, pos: int, marker: bytes | None, depth: int) -> tuple[Any, int]:
    if marker is None:
        raw, pos = _ubj_take(data, pos, 1)
        marker = bytes(raw)
    if marker in _UBJ_SCALARS:
        fmt, size = _UBJ_SCALARS[marker]
        raw, pos = _ubj_take(data, pos, size)
        return struct.unpack(fmt, raw)[0], pos
    if marker in (b"S", b"H"):
        n, pos = _ubj_int(data, pos)
        raw, pos = _ubj_take(data, pos, n)
        text = bytes(raw).decode("utf-8")
        return (float(text) if marker == b"H" else text), pos
    if marker == b"C":
        raw, pos = _ubj_take(data, pos, 1)
        return bytes(raw).decode("ascii"), pos
    if marker in (b"T", b"F", b"Z"):
        return {b"T": True, b"F": False, b"Z": None}[marker], pos
    if marker in (b"[", b"{"):
        if depth >= _UBJ_MAX_DEPTH:
            raise ValueError(f"nesting deeper than {_UBJ_MAX_DEPTH} at byte {pos}")
        return _ubj_container(data, pos, marker == b"{", depth + 1)
    raise ValueError(f"unknown UBJSON marker {marker!r} at byte {pos - 1}")


def _ubj_container(data: memoryview, pos: int, is_object: bool, depth: int) -> tuple[Any, int]:
    item_type = None
    count = None
    if data[pos : pos + 1] == b"$":
        raw, pos = _ubj_take(data, pos + 1, 1)
        item_type = bytes(raw)
    if data[pos : pos + 1] == b"#":
        count, pos = _ubj_int(data, pos + 1)
        if count < 0 or count > len(data) - pos:
            raise ValueError(f"container of {count} items cannot fit in the remaining {len(data) - pos} bytes")
    elif item_type is not None:
        raise ValueError(f"typed container without a count at byte {pos}")
    if not is_object and item_type in _UBJ_SCALARS and count is not None:
        fmt, size = _UBJ_SCALARS[item_type]
        raw, pos = _ubj_take(data, pos, size * count)
        return np.frombuffer(raw, dtype=np.dtype(fmt)).tolist(), pos
    out: Any = {} if is_object else []
    closer = b"}" if is_object else b"]"
    i = 0
    while count is None or i < count:
        if count is None and data[pos : pos + 1] == closer:
            return out, pos + 1
        if is_object:
            n, pos = _ubj_int(data, pos)
            raw, pos = _ubj_take(data, pos, n)
            key = bytes(raw).decode("utf-8")
            out[key], pos = _ubj_value(data, pos, item_type, depth)
        else:
            value, pos = _ubj_value(data, pos, item_type, depth)
            out.append(value)
        i += 1
    return out, pos


__all__ = ["SUPPORTED_OBJECTIVES", "decode_ubjson", "from_xgboost", "from_xgboost_document"]
