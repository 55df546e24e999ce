"""LightGBM frontend: Booster, scikit-learn wrappers, text models and JSON dumps.

Library objects are written to LightGBM's text format (``model_to_string``, which
keeps the trees ``predict`` uses by default) and parsed like a ``model.txt``; the
JSON dump (``dump_model()``) is normalised into the same per-tree arrays. Nothing
needs the lightgbm package to load a file.

LightGBM compares float64 features with ``x <= t`` against float64 thresholds and
sums trees in float64. Its missing-value rules are reproduced with guard nodes:
the C API drops values with ``|x| <= 1e-35f`` from a row (they read back as 0.0),
missing type *None* reads NaN as 0.0, *Zero* sends NaN and the zero band to the
default child, *NaN* sends NaN there (:func:`numerical_rule`).

The per-tree parser and lowering here state every rule and are the reference;
:mod:`.lightgbm_bulk` parses and lowers big models in numpy steps with the same rule
functions and hands anything irregular back to them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmlcError
from ..limits import MAX_FEATURES, MAX_OUTPUTS, check_count, load_json
from ..ir.ensemble import Aggregation, Decision, Ensemble, Link, LinkMath, Op, Task, Tree
from .treebuild import LE, Src, Tables, SourceTreeBuilder, build_tree

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
class LgbForest:
    """All trees' arrays back to back: tree ``i``'s splits start at ``split_start[i]``,
    its leaves at ``leaf_start[i]``; child numbers stay tree-local as LightGBM writes them.
    Big models are parsed and lowered as these few arrays, not per tree."""

    n_splits: np.ndarray  # int64 per tree
    n_leaves: np.ndarray  # int64 per tree
    split_feature: np.ndarray  # int64
    threshold: np.ndarray  # float64
    decision_type: np.ndarray  # int64
    left_child: np.ndarray  # int64
    right_child: np.ndarray  # int64
    leaf_value: np.ndarray  # float64
    categories: dict[int, dict[int, list[int]]]  # tree -> its categorical splits' categories
    where: list[str]

    SPLIT_COLUMNS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")

    def __len__(self) -> int:
        return len(self.where)

    @property
    def split_start(self) -> np.ndarray:
        return np.cumsum(self.n_splits) - self.n_splits

    @property
    def leaf_start(self) -> np.ndarray:
        return np.cumsum(self.n_leaves) - self.n_leaves

    def tree(self, i: int) -> LgbTree:
        """Tree ``i`` as lists, for the per-node lowering."""
        a, b = int(self.split_start[i]), int(self.split_start[i] + self.n_splits[i])
        c, d = int(self.leaf_start[i]), int(self.leaf_start[i] + self.n_leaves[i])
        cols = {name: getattr(self, name)[a:b].tolist() for name in self.SPLIT_COLUMNS}
        return LgbTree(**cols, leaf_value=self.leaf_value[c:d].tolist(),
                       categories=self.categories.get(i, {}), where=self.where[i])

    @staticmethod
    def of(trees: list[LgbTree]) -> "LgbForest":
        def column(name: str, dtype: type) -> np.ndarray:
            return np.array([v for t in trees for v in getattr(t, name)], dtype=dtype)

        return LgbForest(
            n_splits=np.array([len(t.split_feature) for t in trees], dtype=np.int64),
            n_leaves=np.array([len(t.leaf_value) for t in trees], dtype=np.int64),
            **{name: column(name, np.float64 if name == "threshold" else np.int64) for name in LgbForest.SPLIT_COLUMNS},
            leaf_value=column("leaf_value", np.float64),
            categories={i: t.categories for i, t in enumerate(trees) if t.categories},
            where=[t.where for t in trees],
        )


@dataclass
class LgbModel:
    objective: str  # LightGBM's objective string: name then options, e.g. "binary sigmoid:1"
    num_class: int
    trees_per_iteration: int
    n_features: int
    average_output: bool
    feature_names: tuple[str, ...]
    trees: LgbForest


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
        return _lower(parse_text(_booster_text(booster), "LightGBM model"), kind, classes)
    if hasattr(model, "model_to_string"):
        return _lower(parse_text(_booster_text(model), "LightGBM model"), None, None)
    raise EmlcError(
        f"cannot read a LightGBM model from {type(model).__name__}; pass a Booster, "
        "an LGBMClassifier/LGBMRegressor/LGBMRanker, a model.txt or a dump_model() .json file"
    )


def _booster_text(booster: Any) -> str:
    """The booster's text model, as ``model_to_string`` gives it.

    Saved to a temporary file and read back: LightGBM then writes the model once, where
    ``model_to_string`` writes a model over 1 MiB twice (a first try into a 1 MiB
    buffer, then again at full size), which dominates loading big models.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="emlc-") as tmp:
            path = Path(tmp) / "model.txt"
            booster.save_model(str(path))
            return path.read_text(encoding="utf-8")
    except Exception:  # no writable temporary directory (or a stand-in without save_model): the in-memory way
        return booster.model_to_string()


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


#: one ``Tree=`` section: {key: (value, line number)} and how errors name the tree.
Section = tuple[dict[str, tuple[str, int]], str]


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
    sections: list[Section] = []
    try:
        _scan_trees(lines, pos, name, sections)
    except EmlcError:
        _text_forest(sections)  # a defect in an earlier tree is reported first
        raise
    trees = _text_forest(sections)
    return LgbModel(
        objective=header.get("objective", ("custom", 0))[0] or "custom",
        num_class=_int(header, "num_class", name),
        trees_per_iteration=_int(header, "num_tree_per_iteration", name),
        n_features=_int(header, "max_feature_idx", name) + 1,
        average_output="average_output" in header,
        feature_names=tuple(header.get("feature_names", ("", 0))[0].split()),
        trees=trees,
    )


_AFTER_TREES = frozenset({"end of trees", "feature importances:", "parameters:"})


def _scan_trees(lines: list[str], pos: int, name: str, sections: list[Section]) -> None:
    """Append each ``Tree=`` section's key/value lines up to ``end of trees`` (or, in files
    written without that line, the next section LightGBM writes: feature importances or
    parameters)."""
    while True:
        while pos < len(lines) and not lines[pos].strip():
            pos += 1
        if pos >= len(lines):
            raise EmlcError(f"{name}: truncated after line {len(lines)}: 'end of trees' is missing")
        line = lines[pos].strip()
        if line in _AFTER_TREES:
            return
        if not line.startswith("Tree="):
            raise EmlcError(f"{name}: line {pos + 1}: expected 'Tree=<n>' or 'end of trees', got {line[:40]!r}")
        start = pos + 1
        values, pos = _key_values(lines, pos + 1, name, _TREE_KEYS)
        sections.append((values, f"{name}: tree at line {start}"))


def _key_values(
    lines: list[str], pos: int, name: str, keys: frozenset[str] | None = None,
) -> tuple[dict[str, tuple[str, int]], int]:
    """``key=value`` lines up to a blank line: {key: (value, line number)}, for the given
    ``keys`` only (all by default; every line is still checked)."""
    out: dict[str, tuple[str, int]] = {}
    end = len(lines)
    while pos < end:
        line = lines[pos].strip()
        if not line:
            break
        k = line.find("=")
        if k < 0:
            if line == "average_output":
                out[line] = ("", pos + 1)
                pos += 1
                continue
            raise EmlcError(f"{name}: line {pos + 1}: expected 'key=value', got {line[:40]!r}")
        key = line[:k]
        if keys is None or key in keys:
            out[key] = (line[k + 1:], pos + 1)
        pos += 1
    return out, pos


#: the keys of a tree section the lowering reads (the others, gains, weights and counts,
#: are most of a model's text and never copied).
_TREE_KEYS = frozenset({
    "num_leaves", "is_linear", "num_cat", "split_feature", "threshold", "decision_type", "left_child",
    "right_child", "leaf_value", "cat_boundaries", "cat_threshold",
})


def _int(values: dict[str, tuple[str, int]], key: str, where: str) -> int:
    if key not in values:
        raise EmlcError(f"{where}: '{key}=' is missing")
    text, line = values[key]
    try:
        return int(text)
    except ValueError:
        raise EmlcError(f"{where}: line {line}: '{key}' should be an integer, got {text[:40]!r}") from None


def _array(
    values: dict[str, tuple[str, int]], key: str, n: int, kind: type, where: str, bounds: tuple[int, int] | None = None
) -> list:
    """``key``'s ``n`` values (any count when ``n`` < 0); integers must lie in ``bounds``
    (default int32: node and feature numbers; ``cat_threshold`` words are uint32 bitsets)."""
    if key not in values:
        raise EmlcError(f"{where}: '{key}=' is missing (truncated model?)")
    text, line = values[key]
    try:
        out = list(map(kind, text.split()))
    except ValueError:
        raise EmlcError(f"{where}: line {line}: '{key}' holds a value that is not a {kind.__name__}") from None
    if n >= 0 and len(out) != n:
        raise EmlcError(f"{where}: line {line}: '{key}' has {len(out)} values, expected {n} (truncated model?)")
    lo, hi = bounds or INT32
    if kind is int and out and not (lo <= min(out) and max(out) < hi):
        raise EmlcError(f"{where}: line {line}: '{key}' holds a value outside [{lo}, {hi}); the model is corrupt")
    return out


def leaf_count(values: dict[str, tuple[str, int]], where: str) -> int:
    """A tree section's ``num_leaves``, checked: at least one leaf, no linear leaves."""
    n_leaves = _int(values, "num_leaves", where)
    if n_leaves < 1:
        raise EmlcError(f"{where}: num_leaves is {n_leaves}, must be at least 1")
    if values.get("is_linear", ("0", 0))[0] != "0":
        raise EmlcError(f"{where}: linear trees (linear_tree=True) are not supported; retrain without linear_tree")
    return n_leaves


def text_tree(values: dict[str, tuple[str, int]], where: str) -> LgbTree:
    """One ``Tree=`` section's arrays, every value checked; errors name the line."""
    n_leaves = leaf_count(values, where)
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
        words = _array(values, "cat_threshold", -1, int, where, _UINT32)
        for i, dt in enumerate(tree.decision_type):
            if dt & _CATEGORICAL:
                k = int(tree.threshold[i])
                if not 0 <= k < n_cat or not 0 <= bounds[k] <= bounds[k + 1] <= len(words):
                    raise EmlcError(f"{where}: categorical split {i} refers to a missing category set")
                tree.categories[i] = _bits(words[bounds[k] : bounds[k + 1]])
    return tree


#: bounds of the integers LightGBM writes: node and feature numbers (int32), category bitset words (uint32).
INT32 = (-(2**31), 2**31)
_UINT32 = (0, 2**32)


def _text_forest(sections: list[Section]) -> LgbForest:
    """The trees' arrays: all at once when :func:`~.lightgbm_bulk.parse_forest` can (big
    models), else (and so for every error) tree by tree through :func:`text_tree`."""
    from .lightgbm_bulk import parse_forest  # imports this module

    bulk = parse_forest(sections)
    return bulk if bulk is not None else LgbForest.of([text_tree(v, where) for v, where in sections])


def _bits(words: list[int]) -> list[int]:
    return [32 * w + b for w, word in enumerate(words) for b in range(32) if (word >> b) & 1]


# ---------------------------------------------------------------- JSON dump

_MISSING_NAMES = {"None": _MISSING_NONE, "Zero": _MISSING_ZERO, "NaN": _MISSING_NAN}


def parse_dump(doc: Any, name: str) -> LgbModel:
    """Normalise ``Booster.dump_model()`` output into the text format's per-tree arrays."""
    if not isinstance(doc, dict) or "tree_info" not in doc:
        raise EmlcError(f"{name} is not a LightGBM dump_model() JSON (no 'tree_info')")
    try:
        trees = LgbForest.of([_dump_tree(t, f"{name}: tree {i}") for i, t in enumerate(doc["tree_info"])])
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
    from .lightgbm_bulk import lower_forest  # imports this module

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
    trees, leaves, cat_sets, columns = lower_forest(model.trees, model.n_features)  # = lower_trees, in numpy steps
    n_iter = len(trees) // k
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
    ens = Ensemble(
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
        link_math=LinkMath.LIBM,
        decision=decision,
        classes=classes,
        accum_dtype="float64",
        input_type="float64",
        cat_sets=cat_sets,
        feature_names=model.feature_names if len(model.feature_names) == model.n_features else (),
        name="lightgbm",
    )
    return ens if columns is None else ens.with_node_columns(columns, [t.n_nodes for t in trees], trees)


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


def lower_trees(forest: LgbForest, n_features: int) -> tuple[tuple[Tree, ...], np.ndarray, np.ndarray]:
    """Every tree through :func:`lower_tree`: the IR trees, leaf table and category bitsets."""
    tables = Tables()
    trees = tuple(lower_tree(forest.tree(i), n_features, tables) for i in range(len(forest)))
    return trees, tables.leaves(1, "float64"), tables.cat_sets()


def numerical_rule(decision_type: Any, threshold: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LightGBM's ``x <= t`` with its missing-value rules, as the IR tests it: does the zero
    band (``|x| <= ZERO``, read as 0.0) go left, does NaN go left, and does the band need
    guard nodes (unless ``x <= t`` already sends all of it that way).

    Missing type *Zero* sends the band and NaN to the default child, *NaN* sends NaN
    there, *None* reads NaN as 0.0. Elementwise over one split or all of a forest's.
    """
    dt, t = np.asarray(decision_type, dtype=np.int64), np.asarray(threshold, dtype=np.float64)
    missing = (dt >> 2) & 3
    default_left = (dt & _DEFAULT_LEFT) != 0
    band_left = np.where(missing == _MISSING_ZERO, default_left, 0.0 <= t)
    nan_left = np.where(missing != _MISSING_NONE, default_left, 0.0 <= t)
    guarded = ~((band_left & (t >= ZERO)) | (~band_left & (t < -ZERO)))
    return band_left, nan_left, guarded


#: children in :func:`numerical_nodes`' rows: the source split's left and right child
#: (other children are row numbers of the same split's nodes).
TO_LEFT, TO_RIGHT = -1, -2


def numerical_nodes(threshold: Any, band_left: Any, nan_left: Any, guarded: bool) -> list[tuple]:
    """A numerical split's IR nodes (entry first) as ``(op, threshold, default_left, left, right)``
    rows, from :func:`numerical_rule`; elementwise in ``threshold``, ``band_left``, ``nan_left``.

    Guarded: values below the band, and NaN, go to the compare; the band check sends
    the band where zeros go and values above it to the compare.
    """
    compare = (LE, threshold, nan_left, TO_LEFT, TO_RIGHT)
    if not guarded:
        return [compare]
    return [
        (int(Op.LT), -ZERO, True, 2, 1),
        (LE, ZERO, False, np.where(band_left, TO_LEFT, TO_RIGHT), 2),
        compare,
    ]


def lower_tree(tree: LgbTree, n_features: int, tables: Tables) -> Tree:
    """Per-node lowering: zero-band guards, categorical splits and the corrupt-model errors."""
    where = tree.where
    n = len(tree.split_feature)
    n_leaves = len(tree.leaf_value)
    band_left, nan_left, guarded = (a.tolist() for a in numerical_rule(tree.decision_type, tree.threshold))

    def emit(b: SourceTreeBuilder, s: int) -> tuple[int, list[int]]:
        if s < 0:
            if ~s >= n_leaves:
                raise EmlcError(f"{where}: child refers to leaf {~s}, but the tree has {n_leaves} leaves")
            return b.leaf(tables.add_leaf([tree.leaf_value[~s]])), []
        if s >= n:
            raise EmlcError(f"{where}: child refers to split {s}, but the tree has {n} splits")
        f = tree.split_feature[s]
        if not 0 <= f < n_features:
            raise EmlcError(f"{where}: split feature {f} is outside the model's {n_features} features")
        lo, hi = tree.left_child[s], tree.right_child[s]
        if tree.decision_type[s] & _CATEGORICAL:
            if s not in tree.categories:
                raise EmlcError(f"{where}: categorical split {s} has no category set; the model is corrupt")
            # NaN casts to INT_MIN (negative), so it always goes right.
            cat = tables.add_set(tree.categories[s], f"{where}: categorical split {s}")
            return b.add(Op.CAT, feature=f, cat=cat, default_left=False, left=Src(lo), right=Src(hi)), [lo, hi]
        rows = numerical_nodes(tree.threshold[s], band_left[s], nan_left[s], guarded[s])
        return _add_rows(b, f, rows, lo, hi), [lo, hi]

    return build_tree(0 if n else ~0, emit, "float64", where)


def _add_rows(b: SourceTreeBuilder, f: int, rows: list[tuple], lo: int, hi: int) -> int:
    """Add :func:`numerical_nodes`' rows on feature ``f`` for source children ``lo``/``hi``; the entry node."""
    ends = {TO_LEFT: Src(lo), TO_RIGHT: Src(hi)}
    nodes = [b.add(op, feature=f, threshold=t, default_left=dl, left=ends.get(int(left), -1),
                   right=ends.get(int(right), -1)) for op, t, dl, left, right in rows]
    if len(nodes) > 1:  # guard rows point at each other
        for node, row in zip(nodes, rows):
            for side, child in (("left", row[3]), ("right", row[4])):
                if child >= 0:
                    b.link(node, side, nodes[child])
    return nodes[0]


__all__ = ["SUPPORTED_OBJECTIVES", "from_lightgbm", "from_lightgbm_dump", "parse_dump", "parse_text"]
