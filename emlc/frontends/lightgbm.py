"""LightGBM frontend: Booster, scikit-learn wrappers, text models and JSON dumps.

Library objects are written to LightGBM's text format (``model_to_string``, which
keeps the trees ``predict`` uses by default) and parsed like a ``model.txt``; the
JSON dump (``dump_model()``) is normalised into the same per-tree arrays. Nothing
needs the lightgbm package to load a file.

LightGBM compares float64 features with ``x <= t`` against float64 thresholds and
sums trees in float64. Its missing-value rules are reproduced with guard nodes:
the C API drops values with ``|x| <= 1e-35f`` from a row (they read back as 0.0),
missing type *None* reads NaN as 0.0, *Zero* sends NaN and the zero band to the
default child, *NaN* sends NaN there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmlcError
from ..limits import MAX_FEATURES, MAX_OUTPUTS, check_count, load_json
from ..ir.ensemble import Aggregation, Decision, Ensemble, Link, Op, Task, Tree
from .treebuild import LE, Src, Tables, TreeBuilder, build_tree

#: LightGBM's kZeroThreshold, a float literal widened to double.
ZERO = float(np.float32(1e-35))
_CATEGORICAL, _DEFAULT_LEFT = 1, 2
_MISSING_NONE, _MISSING_ZERO, _MISSING_NAN = 0, 1, 2
_IDENTITY = {"regression", "regression_l1", "huber", "fair", "quantile", "mape", "custom"}
_EXP = {"poisson", "gamma", "tweedie"}
_RANK = {"lambdarank", "rank_xendcg"}
_CLASSIFY = {"binary", "multiclass", "multiclassova"}
SUPPORTED_OBJECTIVES = tuple(sorted(_IDENTITY | _EXP | _RANK | _CLASSIFY | {"cross_entropy"}))
_MAX_LINES = 50_000_000
#: LightGBM's own bound on num_leaves.
MAX_LEAVES = 131_072


@dataclass
class LgbTree:
    """One tree as LightGBM stores it: internal nodes 0..n-2, children ``~leaf`` when negative."""

    split_feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    decision_type: list[int] = field(default_factory=list)
    left_child: list[int] = field(default_factory=list)
    right_child: list[int] = field(default_factory=list)
    leaf_value: list[float] = field(default_factory=list)
    categories: dict[int, list[int]] = field(default_factory=dict)
    where: str = "tree"


@dataclass
class LgbModel:
    objective: str  # LightGBM's objective string: name then options, e.g. "binary sigmoid:1"
    num_class: int
    trees_per_iteration: int
    n_features: int
    average_output: bool
    feature_names: tuple[str, ...]
    trees: list[LgbTree]


def from_lightgbm(model: Any) -> Ensemble:
    """Lower a LightGBM model: Booster, LGBMClassifier/Regressor/Ranker, ``model.txt`` or JSON dump."""
    if isinstance(model, (str, Path)):
        return _lower(_read_file(Path(model)), None, None)
    if isinstance(model, dict):
        return _lower(parse_dump(model, "JSON dump"), None, None)
    bases = {cls.__name__ for cls in type(model).__mro__}
    if "LGBMModel" in bases:
        try:
            booster = model.booster_
        except Exception as exc:  # sklearn's NotFittedError, raised by lightgbm
            raise EmlcError(f"the LightGBM estimator is not fitted ({exc}); call fit() first") from exc
        kind = "classifier" if "LGBMClassifier" in bases else "ranker" if "LGBMRanker" in bases else "regressor"
        classes = model.classes_ if kind == "classifier" else None
        return _lower(parse_text(booster.model_to_string(), "LightGBM model"), kind, classes)
    if hasattr(model, "model_to_string"):
        return _lower(parse_text(model.model_to_string(), "LightGBM model"), None, None)
    raise EmlcError(
        f"cannot read a LightGBM model from {type(model).__name__}; pass a Booster, "
        "an LGBMClassifier/LGBMRegressor/LGBMRanker, a model.txt or a dump_model() .json file"
    )


def from_lightgbm_dump(doc: Any, source: str) -> Ensemble:
    """Lower an already parsed ``dump_model()`` document; errors name ``source``."""
    return _lower(parse_dump(doc, source), None, None)


def _read_file(path: Path) -> LgbModel:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmlcError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EmlcError(f"{path} is not a LightGBM model (not UTF-8 text); save it with Booster.save_model('model.txt')") from exc
    head = text.lstrip()
    if head.startswith("{"):
        return parse_dump(load_json(text, str(path)), str(path))
    if head.startswith("tree"):
        return parse_text(text, str(path))
    raise EmlcError(
        f"{path} is not a LightGBM model (expected a text model starting with 'tree' or a dump_model() JSON)"
    )


# ---------------------------------------------------------------- text format


def parse_text(text: str, name: str) -> LgbModel:
    """Parse LightGBM's text model strictly; errors name the offending line."""
    lines = text.split("\n")
    if len(lines) > _MAX_LINES:
        raise EmlcError(f"{name}: more than {_MAX_LINES} lines; not a LightGBM model")
    pos = 0
    while pos < len(lines) and not lines[pos].strip():
        pos += 1
    if pos >= len(lines) or lines[pos].strip() != "tree":
        raise EmlcError(f"{name}: line {pos + 1}: expected 'tree', the first line of a LightGBM text model")
    header, pos = _key_values(lines, pos + 1, name)
    trees = []
    while True:
        while pos < len(lines) and not lines[pos].strip():
            pos += 1
        if pos >= len(lines):
            raise EmlcError(f"{name}: truncated after line {len(lines)}: 'end of trees' is missing")
        line = lines[pos].strip()
        if line == "end of trees":
            break
        if not line.startswith("Tree="):
            raise EmlcError(f"{name}: line {pos + 1}: expected 'Tree=<n>' or 'end of trees', got {line[:40]!r}")
        start = pos + 1
        values, pos = _key_values(lines, pos + 1, name)
        trees.append(_text_tree(values, f"{name}: tree at line {start}"))
    return LgbModel(
        objective=header.get("objective", ("custom", 0))[0] or "custom",
        num_class=_int(header, "num_class", name),
        trees_per_iteration=_int(header, "num_tree_per_iteration", name),
        n_features=_int(header, "max_feature_idx", name) + 1,
        average_output="average_output" in header,
        feature_names=tuple(header.get("feature_names", ("", 0))[0].split()),
        trees=trees,
    )


def _key_values(lines: list[str], pos: int, name: str) -> tuple[dict[str, tuple[str, int]], int]:
    """``key=value`` lines up to a blank line: {key: (value, line number)}."""
    out: dict[str, tuple[str, int]] = {}
    while pos < len(lines) and lines[pos].strip():
        line = lines[pos].strip()
        key, sep, value = line.partition("=")
        if not sep:
            if line == "average_output":
                out[line] = ("", pos + 1)
                pos += 1
                continue
            raise EmlcError(f"{name}: line {pos + 1}: expected 'key=value', got {line[:40]!r}")
        out[key] = (value, pos + 1)
        pos += 1
    return out, pos


def _int(values: dict[str, tuple[str, int]], key: str, where: str) -> int:
    if key not in values:
        raise EmlcError(f"{where}: '{key}=' is missing")
    text, line = values[key]
    try:
        return int(text)
    except ValueError:
        raise EmlcError(f"{where}: line {line}: '{key}' should be an integer, got {text[:40]!r}") from None


def _array(values: dict[str, tuple[str, int]], key: str, n: int, kind: type, where: str) -> list:
    if key not in values:
        raise EmlcError(f"{where}: '{key}=' is missing (truncated model?)")
    text, line = values[key]
    try:
        out = list(map(kind, text.split()))
    except ValueError:
        raise EmlcError(f"{where}: line {line}: '{key}' holds a value that is not a {kind.__name__}") from None
    if n >= 0 and len(out) != n:
        raise EmlcError(f"{where}: line {line}: '{key}' has {len(out)} values, expected {n} (truncated model?)")
    return out


def _text_tree(values: dict[str, tuple[str, int]], where: str) -> LgbTree:
    n_leaves = _int(values, "num_leaves", where)
    if n_leaves < 1:
        raise EmlcError(f"{where}: num_leaves is {n_leaves}, must be at least 1")
    if values.get("is_linear", ("0", 0))[0] != "0":
        raise EmlcError(f"{where}: linear trees (linear_tree=True) are not supported; retrain without linear_tree")
    tree = LgbTree(leaf_value=_array(values, "leaf_value", n_leaves, float, where), where=where)
    n = n_leaves - 1
    if n == 0:
        return tree
    tree.split_feature = _array(values, "split_feature", n, int, where)
    tree.threshold = _array(values, "threshold", n, float, where)
    tree.decision_type = _array(values, "decision_type", n, int, where)
    tree.left_child = _array(values, "left_child", n, int, where)
    tree.right_child = _array(values, "right_child", n, int, where)
    n_cat = _int(values, "num_cat", where) if "num_cat" in values else 0
    if n_cat > 0:
        bounds = _array(values, "cat_boundaries", n_cat + 1, int, where)
        words = _array(values, "cat_threshold", -1, int, where)
        for i, dt in enumerate(tree.decision_type):
            if dt & _CATEGORICAL:
                k = int(tree.threshold[i])
                if not 0 <= k < n_cat or not 0 <= bounds[k] <= bounds[k + 1] <= len(words):
                    raise EmlcError(f"{where}: categorical split {i} refers to a missing category set")
                tree.categories[i] = _bits(words[bounds[k] : bounds[k + 1]])
    return tree


def _bits(words: list[int]) -> list[int]:
    return [32 * w + b for w, word in enumerate(words) for b in range(32) if (word >> b) & 1]


# ---------------------------------------------------------------- JSON dump

_MISSING_NAMES = {"None": _MISSING_NONE, "Zero": _MISSING_ZERO, "NaN": _MISSING_NAN}


def parse_dump(doc: Any, name: str) -> LgbModel:
    """Normalise ``Booster.dump_model()`` output into the text format's per-tree arrays."""
    if not isinstance(doc, dict) or "tree_info" not in doc:
        raise EmlcError(f"{name} is not a LightGBM dump_model() JSON (no 'tree_info')")
    try:
        trees = [_dump_tree(t, f"{name}: tree {i}") for i, t in enumerate(doc["tree_info"])]
        return LgbModel(
            objective=str(doc.get("objective") or "custom"),
            num_class=int(doc["num_class"]),
            trees_per_iteration=int(doc["num_tree_per_iteration"]),
            n_features=int(doc["max_feature_idx"]) + 1,
            average_output=bool(doc.get("average_output", False)),
            feature_names=tuple(doc.get("feature_names", ())),
            trees=trees,
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise EmlcError(f"{name}: malformed LightGBM JSON dump ({type(exc).__name__} {exc})") from exc


def _dump_tree(info: dict, where: str) -> LgbTree:
    n_leaves = check_count(info["num_leaves"], MAX_LEAVES, "num_leaves", where)
    tree = LgbTree(leaf_value=[0.0] * n_leaves, where=where)
    n = n_leaves - 1
    for col in ("split_feature", "threshold", "decision_type", "left_child", "right_child"):
        setattr(tree, col, [0] * n)
    stack = [(info["tree_structure"], None, "")]
    while stack:
        node, parent, side = stack.pop()
        if "leaf_value" in node and "split_index" not in node:
            index = ~int(node.get("leaf_index", 0))
            if not 0 <= ~index < n_leaves:
                raise EmlcError(f"{where}: leaf_index {~index} outside its {n_leaves} leaves")
            tree.leaf_value[~index] = float(node["leaf_value"])
        else:
            index = int(node["split_index"])
            if not 0 <= index < n:
                raise EmlcError(f"{where}: split_index {index} outside its {n} splits")
            is_cat = node["decision_type"] == "=="
            dt = (_CATEGORICAL if is_cat else 0) | (_DEFAULT_LEFT if node.get("default_left") else 0)
            tree.decision_type[index] = dt | (_MISSING_NAMES[node.get("missing_type", "None")] << 2)
            tree.split_feature[index] = int(node["split_feature"])
            if is_cat:
                tree.categories[index] = [int(c) for c in str(node["threshold"]).split("||")]
            else:
                tree.threshold[index] = float(node["threshold"])
            stack.append((node["left_child"], index, "left_child"))
            stack.append((node["right_child"], index, "right_child"))
        if parent is not None:
            getattr(tree, side)[parent] = index
    return tree


# ---------------------------------------------------------------- lowering


def _lower(model: LgbModel, sklearn: str | None, classes: Any) -> Ensemble:
    name, *options = model.objective.split()
    if name not in SUPPORTED_OBJECTIVES:
        raise EmlcError(
            f"LightGBM objective '{name}' is not supported; supported: {', '.join(SUPPORTED_OBJECTIVES)}"
        )
    if "sqrt" in options:
        raise EmlcError("LightGBM regression with reg_sqrt=True is not supported; retrain without reg_sqrt")
    k = check_count(model.trees_per_iteration, MAX_OUTPUTS, "num_tree_per_iteration", "LightGBM model")
    check_count(model.num_class, MAX_OUTPUTS, "num_class", "LightGBM model")
    check_count(model.n_features, MAX_FEATURES, "max_feature_idx + 1", "LightGBM model")
    if k < 1 or len(model.trees) % k:
        raise EmlcError(f"LightGBM model has {len(model.trees)} trees, not a multiple of num_tree_per_iteration={k}")
    tables = Tables()
    trees = tuple(_tree(t, model.n_features, tables) for t in model.trees)
    n_iter = len(trees) // k
    leaves = tables.leaves(1, "float64")
    aggregation = Aggregation.SUM
    if model.average_output:
        if k == 1:
            aggregation = Aggregation.MEAN
        else:  # LightGBM divides each class's sum by the iterations, not by all trees
            leaves = leaves / max(n_iter, 1)
    link, params, task, decision = _objective(name, options)
    if task is Task.CLASSIFICATION:
        n_classes = max(model.num_class, 2)
        classes = np.arange(n_classes) if classes is None else np.asarray(classes)
    else:
        classes = None
        if sklearn == "ranker":
            task = Task.RANKING
    return Ensemble(
        n_features=model.n_features,
        task=task,
        trees=trees,
        tree_output=np.tile(np.arange(k, dtype=np.int32), n_iter),
        leaves=leaves,
        n_outputs=k,
        aggregation=aggregation,
        base_score=np.zeros(k),
        link=link,
        link_params=params,
        decision=decision,
        classes=classes,
        accum_dtype="float64",
        input_type="float32",
        cat_sets=tables.cat_sets(),
        feature_names=model.feature_names if len(model.feature_names) == model.n_features else (),
        name="lightgbm",
    )


def _objective(name: str, options: list[str]) -> tuple[Link, tuple[float, ...], Task, Decision]:
    params = dict(p.split(":", 1) for p in options if ":" in p)
    if name in {"binary", "multiclassova"}:
        alpha = float(params.get("sigmoid", "1"))
        return Link.SIGMOID, (alpha,), Task.CLASSIFICATION, Decision.ARGMAX
    if name == "multiclass":
        return Link.SOFTMAX, (), Task.CLASSIFICATION, Decision.ARGMAX
    if name == "cross_entropy":
        return Link.SIGMOID, (1.0,), Task.REGRESSION, Decision.NONE
    if name in _EXP:
        return Link.EXP, (), Task.REGRESSION, Decision.NONE
    if name in _RANK:
        return Link.IDENTITY, (), Task.RANKING, Decision.NONE
    return Link.IDENTITY, (), Task.REGRESSION, Decision.NONE


def _tree(tree: LgbTree, n_features: int, tables: Tables) -> Tree:
    plain = _plain_tree(tree, n_features, tables)
    return plain if plain is not None else _guarded_tree(tree, n_features, tables)


def _plain_tree(tree: LgbTree, n_features: int, tables: Tables) -> Tree | None:
    """The IR of a tree whose every split is one plain comparison (no categorical split,
    no zero-band guard, valid references), built in numpy steps as per-node lowering
    dominates loading big models; None otherwise. Nodes and leaf rows come in the
    per-node path's order (preorder), so both paths give the same IR."""
    n, n_leaves = len(tree.split_feature), len(tree.leaf_value)
    if n == 0:
        return None
    dt = np.asarray(tree.decision_type, dtype=np.int64)
    t = np.asarray(tree.threshold, dtype=np.float64)
    f = np.asarray(tree.split_feature, dtype=np.int64)
    lc, rc = np.asarray(tree.left_child, dtype=np.int64), np.asarray(tree.right_child, dtype=np.int64)
    missing = (dt >> 2) & 3
    default_left = (dt & _DEFAULT_LEFT) != 0
    band_left = np.where(missing == _MISSING_ZERO, default_left, 0.0 <= t)
    nan_left = np.where(missing != _MISSING_NONE, default_left, 0.0 <= t)
    plain = (band_left & (t >= ZERO)) | (~band_left & (t < -ZERO))
    children = np.concatenate([lc, rc])
    if ((dt & _CATEGORICAL).any() or not plain.all() or f.min() < 0 or f.max() >= n_features
            or children.min() < -n_leaves or children.max() >= n):
        return None
    left_of, right_of = tree.left_child, tree.right_child
    order: list[int] = []
    seen: set[int] = set()
    stack = [0]
    while stack:
        s = stack.pop()
        if s in seen:
            return None  # the per-node path reports the corrupt tree
        seen.add(s)
        order.append(s)
        if s >= 0:
            stack.append(right_of[s])
            stack.append(left_of[s])
    src = np.asarray(order, dtype=np.int64)
    is_leaf = src < 0
    index = np.arange(src.size)
    split_at = np.zeros(n, dtype=np.int64)
    split_at[src[~is_leaf]] = index[~is_leaf]
    leaf_at = np.zeros(n_leaves, dtype=np.int64)
    leaf_at[~src[is_leaf]] = index[is_leaf]
    s = np.where(is_leaf, 0, src)

    def child(c: np.ndarray) -> np.ndarray:
        c = c[s]
        return np.where(is_leaf, -1, np.where(c >= 0, split_at[np.maximum(c, 0)], leaf_at[~np.minimum(c, -1)]))

    first = len(tables.leaf_rows)
    tables.leaf_rows.extend([tree.leaf_value[~k]] for k in order if k < 0)
    return Tree.build(
        op=np.where(is_leaf, int(Op.LEAF), LE),
        feature=np.where(is_leaf, -1, f[s]),
        threshold=np.where(is_leaf, 0.0, t[s]),
        default_left=np.where(is_leaf, False, nan_left[s]),
        left=child(lc),
        right=child(rc),
        leaf=np.where(is_leaf, first + np.cumsum(is_leaf) - 1, -1),
        cat=np.full(src.size, -1),
        threshold_dtype="float64",
    )


def _guarded_tree(tree: LgbTree, n_features: int, tables: Tables) -> Tree:
    """Per-node lowering: zero-band guards, categorical splits and the corrupt-model errors."""
    where = tree.where
    n = len(tree.split_feature)
    n_leaves = len(tree.leaf_value)

    def emit(b: TreeBuilder, s: int) -> tuple[int, list[int]]:
        if s < 0:
            if ~s >= n_leaves:
                raise EmlcError(f"{where}: child refers to leaf {~s}, but the tree has {n_leaves} leaves")
            return b.leaf(tables.add_leaf([tree.leaf_value[~s]])), []
        if s >= n:
            raise EmlcError(f"{where}: child refers to split {s}, but the tree has {n} splits")
        f = tree.split_feature[s]
        if not 0 <= f < n_features:
            raise EmlcError(f"{where}: split feature {f} is outside the model's {n_features} features")
        dt = tree.decision_type[s]
        lo, hi = tree.left_child[s], tree.right_child[s]
        if dt & _CATEGORICAL:
            if s not in tree.categories:
                raise EmlcError(f"{where}: categorical split {s} has no category set; the model is corrupt")
            # NaN casts to INT_MIN (negative), so it always goes right.
            cat = tables.add_set(c for c in tree.categories[s] if c < 1 << 24)
            return b.add(Op.CAT, feature=f, cat=cat, default_left=False, left=Src(lo), right=Src(hi)), [lo, hi]
        return _numerical(b, f, tree.threshold[s], dt, lo, hi), [lo, hi]

    return build_tree(0 if n else ~0, emit, "float64", where)


def _numerical(b: TreeBuilder, f: int, t: float, dt: int, lo: int, hi: int) -> int:
    """``x <= t`` with LightGBM's zero band and missing rules, guarded only where they differ."""
    missing = (dt >> 2) & 3
    default_left = bool(dt & _DEFAULT_LEFT)
    band_left = default_left if missing == _MISSING_ZERO else 0.0 <= t
    nan_left = default_left if missing != _MISSING_NONE else 0.0 <= t
    if (band_left and t >= ZERO) or (not band_left and t < -ZERO):
        return b.add(LE, feature=f, threshold=t, default_left=nan_left, left=Src(lo), right=Src(hi))
    outer = b.add(Op.LT, feature=f, threshold=-ZERO, default_left=True)
    band = b.add(Op.LE, feature=f, threshold=ZERO, default_left=False, left=Src(lo if band_left else hi))
    compare = b.add(Op.LE, feature=f, threshold=t, default_left=nan_left, left=Src(lo), right=Src(hi))
    b.link(outer, "left", compare)
    b.link(outer, "right", band)
    b.link(band, "right", compare)
    return outer


__all__ = ["SUPPORTED_OBJECTIVES", "from_lightgbm", "from_lightgbm_dump", "parse_dump", "parse_text"]
