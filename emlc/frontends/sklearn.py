"""scikit-learn frontend: single trees, forests, gradient boosting and isolation forests.

Each lowering reproduces what the estimator's ``predict`` computes, in the same
order and dtype, so the reference interpreter agrees with scikit-learn bit for
bit: trees compare the float32-cast input with float64 thresholds and route NaN
by ``missing_go_to_left``; forests average per-tree probabilities (soft voting);
gradient boosting starts from the init estimator's raw prediction and adds
``learning_rate * leaf`` per stage. HistGradientBoosting lives in
:mod:`emlc.frontends.sklearn_hist`.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from ..errors import EmlcError
from ..ir.ensemble import Aggregation, Decision, Ensemble, Link, LinkMath, Op, Task, Tree
from ..ir.verify import verify

_TREES = ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier", "ExtraTreeRegressor")
_FORESTS = (
    "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor",
)
_BOOSTING = ("GradientBoostingClassifier", "GradientBoostingRegressor")
_HIST = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor")
SUPPORTED = _TREES + _FORESTS + _BOOSTING + _HIST + ("IsolationForest",)

#: scikit-learn link classes (``estimator._loss.link``) and the IR link they are: the
#: logistic ones call SciPy's ``expit`` (C exp), the others numpy's ``exp``.
_LINKS: dict[str, tuple[Link, tuple[float, ...], LinkMath]] = {
    "IdentityLink": (Link.IDENTITY, (), LinkMath.NUMPY),
    "LogLink": (Link.EXP, (), LinkMath.NUMPY),
    "LogitLink": (Link.SIGMOID, (), LinkMath.LIBM),
    "HalfLogitLink": (Link.SIGMOID, (2.0,), LinkMath.LIBM),
    "MultinomialLogit": (Link.SOFTMAX, (), LinkMath.NUMPY),
}
#: Dummy init strategies whose prediction does not depend on the input row.
_CONSTANT_INIT = {
    "DummyClassifier": ("prior", "most_frequent", "constant", "uniform"),
    "DummyRegressor": ("mean", "median", "quantile", "constant"),
}


def from_sklearn(estimator: Any) -> Ensemble:
    """Lower a fitted scikit-learn tree estimator into a verified :class:`Ensemble`."""
    kind = _kind(estimator)
    _check_fitted(estimator, kind)
    _check_single_output(estimator, kind)
    return verify(_LOWERINGS[kind](estimator))


def _kind(estimator: Any) -> str:
    """The supported scikit-learn class ``estimator`` is (or derives from)."""
    for cls in type(estimator).__mro__:
        if cls.__name__ in SUPPORTED and cls.__module__.startswith("sklearn."):
            return cls.__name__
    name = type(estimator).__name__
    hint = ""
    if name == "Pipeline":
        hint = " (lower the final step, pipeline[-1], and apply the preprocessing before prediction)"
    raise EmlcError(
        f"unsupported scikit-learn estimator {name}{hint}; supported: {', '.join(SUPPORTED)}"
    )


def _check_fitted(estimator: Any, kind: str) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise EmlcError(f"this {kind} is not fitted; call fit() before converting it") from None


def _check_single_output(estimator: Any, kind: str) -> None:
    if getattr(estimator, "n_outputs_", 1) != 1:
        raise EmlcError(
            f"multi-output {kind} ({estimator.n_outputs_} outputs) is unsupported; "
            f"emlc lowers single-output models only: train one model per output"
        )


def common_fields(estimator: Any) -> dict[str, Any]:
    """Ensemble fields every lowering shares: feature count, names and class labels."""
    fields: dict[str, Any] = {"n_features": int(estimator.n_features_in_)}
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        fields["feature_names"] = tuple(str(n) for n in names)
    return fields


def _classes(estimator: Any) -> np.ndarray:
    return np.asarray(estimator.classes_)


def lower_trees(
    trees_: list[Any],
    node_values: list[np.ndarray],
    features: list[np.ndarray] | None = None,
    nan_follows_missing: bool = True,
) -> tuple[dict[str, np.ndarray], list[int], np.ndarray]:
    """``sklearn.tree._tree.Tree`` objects as IR node columns back to back (tree ``i`` is
    the next ``sizes[i]`` nodes), their sizes and the leaf rows they reference.

    ``node_values[i][j]`` is node ``j`` of tree ``i``'s leaf row; leaves take table rows
    in tree and node order. ``features[i]`` maps tree ``i``'s feature indices to model
    columns (bagging on a feature subset). Without ``nan_follows_missing`` NaN goes
    right, as ``x <= t`` does in gradient boosting's stage predictor. All trees are
    lowered in a few numpy steps: per-tree steps dominated loading big forests.
    """
    sizes = [int(t.node_count) for t in trees_]
    left = np.concatenate([t.children_left for t in trees_]).astype(np.int64)
    is_leaf = left == -1
    feature = np.concatenate([t.feature for t in trees_]).astype(np.int64)
    if features is not None:
        maps = [np.asarray(f, dtype=np.int64) for f in features]
        offset = np.repeat(np.cumsum([m.size for m in maps]) - [m.size for m in maps], sizes)
        feature = np.concatenate(maps)[offset + np.where(is_leaf, 0, feature)]
    if nan_follows_missing:
        missing_left = np.concatenate([np.asarray(t.missing_go_to_left, dtype=bool) for t in trees_])
    else:
        missing_left = np.zeros(left.size, dtype=bool)
    leaf_nodes = np.flatnonzero(is_leaf)
    leaf = np.full(left.size, -1, dtype=np.int32)
    leaf[leaf_nodes] = np.arange(leaf_nodes.size)
    columns = {
        "op": np.where(is_leaf, Op.LEAF, Op.LE).astype(np.uint8),
        "feature": np.where(is_leaf, -1, feature).astype(np.int32),
        "threshold": np.where(is_leaf, 0.0, np.concatenate([t.threshold for t in trees_])).astype(np.float64),
        "default_left": missing_left & ~is_leaf,
        "left": np.where(is_leaf, -1, left).astype(np.int32),
        "right": np.where(is_leaf, -1, np.concatenate([t.children_right for t in trees_])).astype(np.int32),
        "leaf": leaf,
        "cat": np.full(left.size, -1, dtype=np.int32),
    }
    return columns, sizes, np.concatenate(node_values)[leaf_nodes]


def _cut(columns: dict[str, np.ndarray], sizes: list[int], **fields: Any) -> Ensemble:
    """An ensemble of the trees in ``columns`` (see :func:`lower_trees`), which become its column cache."""
    trees = tuple(Tree.cut(columns, sizes))
    return Ensemble(trees=trees, **fields).with_node_columns(columns, sizes, trees)


def _averaged(estimator: Any, trees: list[Any]) -> Ensemble:
    """Trees whose ``tree_.value`` is averaged: one tree, or a forest's soft vote."""
    is_classifier = hasattr(estimator, "classes_")
    structures = [t.tree_ for t in trees]
    columns, sizes, rows = lower_trees(structures, [s.value[:, 0, :] for s in structures])
    width = rows.shape[1]
    fields = dict(
        tree_output=np.zeros(len(sizes), dtype=np.int32),
        leaves=rows.astype(np.float64),
        n_outputs=width,
        aggregation=Aggregation.MEAN,
        base_score=np.zeros(width),
        **common_fields(estimator),
    )
    if is_classifier:
        return _cut(
            columns, sizes, task=Task.CLASSIFICATION, decision=Decision.ARGMAX, classes=_classes(estimator), **fields
        )
    return _cut(columns, sizes, task=Task.REGRESSION, **fields)


def _single_tree(estimator: Any) -> Ensemble:
    return _averaged(estimator, [estimator])


def _forest(estimator: Any) -> Ensemble:
    return _averaged(estimator, list(estimator.estimators_))


def link_of(estimator: Any) -> tuple[Link, tuple[float, ...], LinkMath]:
    """The IR link, its parameters and arithmetic for a boosting estimator's loss, or an
    error naming the loss."""
    link = type(estimator._loss.link).__name__
    if link not in _LINKS:
        raise EmlcError(
            f"{type(estimator).__name__} with loss {estimator.loss!r} (link {link}) is unsupported; "
            f"supported links: {', '.join(_LINKS)}"
        )
    return _LINKS[link]


def _init_raw(estimator: Any) -> np.ndarray:
    """Gradient boosting's starting margin; only constant init estimators are supported."""
    init = estimator.init_
    k = estimator.estimators_.shape[1]
    if isinstance(init, str) and init == "zero":
        return np.zeros(k)
    allowed = _CONSTANT_INIT.get(type(init).__name__, ())
    if getattr(init, "strategy", None) not in allowed:
        raise EmlcError(
            f"{type(estimator).__name__} with init={type(init).__name__}"
            f"(strategy={getattr(init, 'strategy', None)!r}) is unsupported: its start value depends "
            f"on the input; supported init: None, 'zero', DummyClassifier(strategy in "
            f"{_CONSTANT_INIT['DummyClassifier']}), DummyRegressor(any strategy)"
        )
    row = np.zeros((1, estimator.n_features_in_), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(estimator._raw_predict_init(row), dtype=np.float64)[0]


def _gradient_boosting(estimator: Any) -> Ensemble:
    stages = estimator.estimators_
    k = stages.shape[1]
    scale = float(estimator.learning_rate)
    structures = [t.tree_ for stage in stages for t in stage]
    columns, sizes, rows = lower_trees(
        structures, [scale * s.value[:, 0, :] for s in structures], nan_follows_missing=False
    )
    fields = dict(
        tree_output=np.tile(np.arange(k, dtype=np.int32), len(stages)),
        leaves=rows.astype(np.float64),
        n_outputs=k,
        aggregation=Aggregation.SUM,
        base_score=_init_raw(estimator),
        **common_fields(estimator),
    )
    if hasattr(estimator, "classes_"):
        link, params, math = link_of(estimator)
        return _cut(
            columns, sizes,
            task=Task.CLASSIFICATION,
            link=link,
            link_params=params,
            link_math=math,
            decision=Decision.RAW_ARGMAX,
            classes=_classes(estimator),
            **fields,
        )
    return _cut(columns, sizes, task=Task.REGRESSION, **fields)


def _path_length(n_samples: np.ndarray) -> np.ndarray:
    """Average unsuccessful-search path length in a BST of ``n`` nodes, as IsolationForest uses."""
    from sklearn.ensemble._iforest import _average_path_length

    return _average_path_length(n_samples)


def _isolation_forest(estimator: Any) -> Ensemble:
    """Leaf value = depth + expected remaining depth - 1; the link turns the sum into a score."""
    subset = estimator._max_features != estimator.n_features_in_
    values = [
        np.asarray(depths + remaining - 1.0, dtype=np.float64)[:, None]
        for depths, remaining in zip(estimator._decision_path_lengths, estimator._average_path_length_per_tree)
    ]
    columns, sizes, leaves = lower_trees(
        [t.tree_ for t in estimator.estimators_], values, list(estimator.estimators_features_) if subset else None
    )
    base = np.zeros(1)
    denominator = len(sizes) * float(_path_length(np.array([estimator._max_samples]))[0])
    if denominator == 0:
        # One training sample per tree: scikit-learn fixes the normalised depth at 1.
        leaves, base, denominator = np.zeros_like(leaves), np.ones(1), 1.0
    return _cut(
        columns, sizes,
        task=Task.ANOMALY,
        tree_output=np.zeros(len(sizes), dtype=np.int32),
        leaves=leaves,
        n_outputs=1,
        aggregation=Aggregation.SUM,
        base_score=base,
        link=Link.ISOLATION,
        link_params=(denominator, float(estimator.offset_)),
        decision=Decision.SIGN,
        **common_fields(estimator),
    )


def _hist(estimator: Any) -> Ensemble:
    from .sklearn_hist import lower_hist_gradient_boosting

    return lower_hist_gradient_boosting(estimator)


_LOWERINGS: dict[str, Callable[[Any], Ensemble]] = {
    **{name: _single_tree for name in _TREES},
    **{name: _forest for name in _FORESTS},
    **{name: _gradient_boosting for name in _BOOSTING},
    **{name: _hist for name in _HIST},
    "IsolationForest": _isolation_forest,
}
