"""The scikit-learn frontend against scikit-learn itself, row by row.

Every case trains a real estimator, lowers it, and compares the reference
interpreter with ``predict`` (exactly), ``predict_proba`` / ``decision_function``
(1e-6 relative, and bit-exact raw margins where emlc accumulates like
scikit-learn). Test rows are training rows, wider random rows, and rows with
every feature set to a threshold of the fitted trees or to one of its float32
neighbours, so each comparison is exercised on both of its sides.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn import dummy, ensemble, linear_model, pipeline, preprocessing, tree
from threadpoolctl import threadpool_limits

import emlc
from emlc.errors import EmlcError
from emlc.frontends.sklearn import from_sklearn
from emlc.ir import Decision, Link, Op, Task, interpret_raw, interpret_value
from emlc.ir.verify import verify


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """OpenMP threads spinning against other test processes make HistGradientBoosting crawl."""
    with threadpool_limits(limits=1):
        yield


@dataclass(frozen=True)
class Shape:
    """One point of the matrix: data shape and model size."""

    n_features: int = 5
    n_classes: int = 3
    depth: int = 6
    n_trees: int = 10
    n_rows: int = 240
    nan: bool = True
    labels: str = "int"
    noise: float = 0.0  # label noise makes trees grow to their depth limit


SHAPES = {
    "base": Shape(),
    "binary": Shape(n_classes=2),
    "ten_classes": Shape(n_classes=10, n_rows=400),
    "one_feature": Shape(n_features=1),
    "wide": Shape(n_features=200, n_rows=150, n_trees=5),
    "stump": Shape(depth=1),
    "deep": Shape(depth=20, n_rows=600, n_trees=3, noise=2.0),
    "one_tree": Shape(n_trees=1),
    "many_trees": Shape(n_trees=500, depth=2, n_rows=60, n_classes=2),
    "string_labels": Shape(labels="str"),
    "no_nan": Shape(nan=False),
}


def _tree_kw(s: Shape) -> dict:
    return {"max_depth": s.depth, "random_state": 0}


def _forest_kw(s: Shape) -> dict:
    return {"n_estimators": s.n_trees, "max_depth": s.depth, "random_state": 0, "n_jobs": 1}


def _gb_kw(s: Shape) -> dict:
    return {"n_estimators": s.n_trees, "max_depth": s.depth, "learning_rate": 0.3, "random_state": 0}


def _hgb_kw(s: Shape) -> dict:
    # min_samples_leaf=2 lets deep trees grow on small data; no early stopping keeps n_trees fixed.
    return {
        "max_iter": s.n_trees, "max_depth": s.depth + 1 if s.depth > 1 else 2,
        "max_leaf_nodes": None if s.depth > 1 else 2, "min_samples_leaf": 2,
        "learning_rate": 0.3, "early_stopping": False, "random_state": 0,
    }


# name -> (factory, task, accepts NaN)
KINDS = {
    "DecisionTreeClassifier": (lambda s: tree.DecisionTreeClassifier(**_tree_kw(s)), "clf", True),
    "DecisionTreeRegressor": (lambda s: tree.DecisionTreeRegressor(**_tree_kw(s)), "reg", True),
    "ExtraTreeClassifier": (lambda s: tree.ExtraTreeClassifier(**_tree_kw(s)), "clf", True),
    "ExtraTreeRegressor": (lambda s: tree.ExtraTreeRegressor(**_tree_kw(s)), "reg", True),
    "RandomForestClassifier": (lambda s: ensemble.RandomForestClassifier(**_forest_kw(s)), "clf", True),
    "RandomForestRegressor": (lambda s: ensemble.RandomForestRegressor(**_forest_kw(s)), "reg", True),
    "ExtraTreesClassifier": (lambda s: ensemble.ExtraTreesClassifier(**_forest_kw(s)), "clf", True),
    "ExtraTreesRegressor": (lambda s: ensemble.ExtraTreesRegressor(**_forest_kw(s)), "reg", True),
    "GradientBoostingClassifier": (lambda s: ensemble.GradientBoostingClassifier(**_gb_kw(s)), "clf", False),
    "GradientBoostingRegressor": (lambda s: ensemble.GradientBoostingRegressor(**_gb_kw(s)), "reg", False),
    "HistGradientBoostingClassifier": (lambda s: ensemble.HistGradientBoostingClassifier(**_hgb_kw(s)), "clf", True),
    "HistGradientBoostingRegressor": (lambda s: ensemble.HistGradientBoostingRegressor(**_hgb_kw(s)), "reg", True),
    "IsolationForest": (
        lambda s: ensemble.IsolationForest(n_estimators=s.n_trees, random_state=0, max_features=0.8),
        "anomaly", True,
    ),
}


def make_data(s: Shape, task: str, nan: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows with informative, constant and duplicated-value columns, plus labels or targets."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(s.n_rows, s.n_features))
    if s.n_features > 2:
        X[:, 2] = 1.5  # a constant feature
    if s.n_features > 3:
        X[:, 3] = np.round(X[:, 3])  # many ties: thresholds land between repeated values
    signal = X[:, 0] + (X[:, 1] if s.n_features > 1 else 0.0)
    if nan:
        X[rng.random(X.shape) < 0.1] = np.nan
        signal = signal + np.isnan(X[:, 0]) * 1.5  # missingness carries information
    signal = np.nan_to_num(signal) + rng.normal(scale=s.noise, size=s.n_rows)
    if task == "anomaly":
        return X, None
    if task == "reg":
        return X, 3 * signal + rng.normal(scale=0.3, size=s.n_rows)
    edges = np.quantile(signal, np.linspace(0, 1, s.n_classes + 1)[1:-1])
    y = np.searchsorted(edges, signal)
    y[: s.n_classes] = np.arange(s.n_classes)  # every class present
    if s.labels == "str":
        return X, np.array(["cat", "dog", "emu", "fox", "gnu"] * 2)[y]
    return X, y


def threshold_rows(ens: emlc.Ensemble, X: np.ndarray, limit: int = 400) -> np.ndarray:
    """Rows whose features sit on split thresholds and on their float32 neighbours."""
    values: dict[int, list[float]] = {}
    for t in ens.trees:
        inner = (t.op == Op.LE) | (t.op == Op.LT)
        for f, thr in zip(t.feature[inner], t.threshold[inner]):
            if np.isfinite(thr):
                v32 = np.float32(thr)
                values.setdefault(int(f), []).extend(
                    [float(thr), float(v32), float(np.nextafter(v32, np.float32(np.inf))),
                     float(np.nextafter(v32, np.float32(-np.inf)))]
                )
    rng = np.random.default_rng(1)
    base = X[rng.integers(0, X.shape[0], limit)].copy()
    for f, vals in values.items():
        base[:, f] = rng.choice(np.asarray(vals), size=limit)
    return base


def probe_rows(ens: emlc.Ensemble, X: np.ndarray, nan: bool) -> np.ndarray:
    rng = np.random.default_rng(2)
    wide = rng.normal(scale=3.0, size=(100, X.shape[1]))
    if nan:
        wide[rng.random(wide.shape) < 0.1] = np.nan
    else:
        X = np.nan_to_num(X)
    return np.vstack([X, wide, threshold_rows(ens, X)])




def assert_matches(est, ens: emlc.Ensemble, X: np.ndarray) -> None:
    """emlc's interpreter reproduces every prediction method the estimator has."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # feature-name warnings on bare arrays
        np.testing.assert_array_equal(emlc.interpret(ens, X), est.predict(X))
        if hasattr(est, "predict_proba"):
            np.testing.assert_allclose(emlc.interpret_proba(ens, X), est.predict_proba(X), rtol=1e-6, atol=1e-300)
        if ens.task is Task.ANOMALY:
            np.testing.assert_allclose(interpret_value(ens, X)[:, 0], est.decision_function(X), rtol=1e-6)
            np.testing.assert_array_equal(interpret_raw(ens, X)[:, 0], _isolation_depths(est, X))
        elif hasattr(est, "decision_function"):
            raw = interpret_raw(ens, X)
            np.testing.assert_array_equal(raw[:, 0] if raw.shape[1] == 1 else raw, est.decision_function(X))
        elif ens.task is Task.REGRESSION and ens.link is Link.IDENTITY:
            np.testing.assert_array_equal(emlc.interpret(ens, X), est.predict(X))


def _isolation_depths(est, X: np.ndarray) -> np.ndarray:
    """scikit-learn's summed path lengths, recovered from its score: -log2(score) * denominator."""
    depths = np.zeros(X.shape[0])
    X32 = X.astype(np.float32)
    subset = est._max_features != X.shape[1]
    for i, (t, feats) in enumerate(zip(est.estimators_, est.estimators_features_)):
        leaves = t.apply(X32[:, feats] if subset else X32, check_input=False)
        depths += est._decision_path_lengths[i][leaves] + est._average_path_length_per_tree[i][leaves] - 1.0
    return depths


def _matrix() -> list[tuple[str, str]]:
    """Every kind on every shape, less the shapes that cannot vary it."""
    cases = []
    for kind, (_, task, _) in KINDS.items():
        for shape, s in SHAPES.items():
            varies_classes = s.labels != "int" or s.n_classes != Shape.n_classes
            single_tree = kind.startswith(("Decision", "ExtraTree"))
            if (varies_classes and task != "clf") or (shape in ("one_tree", "many_trees") and single_tree):
                continue
            cases.append((kind, shape))
    return cases


@pytest.mark.parametrize(("kind", "shape"), _matrix(), ids=[f"{k}-{s}" for k, s in _matrix()])
def test_matches_sklearn(kind: str, shape: str) -> None:
    make, task, accepts_nan = KINDS[kind]
    s = SHAPES[shape]
    nan = s.nan and accepts_nan
    X, y = make_data(s, task, nan)
    est = make(s).fit(X, y) if y is not None else make(s).fit(X)
    ens = from_sklearn(est)
    assert ens.n_features == s.n_features
    if shape == "deep" and task != "anomaly":  # isolation trees stop at log2(max_samples)
        assert max(_depth(t) for t in ens.trees) >= 19, "the deep shape should grow deep trees"
    if task == "clf":
        assert list(ens.classes) == list(est.classes_)
    assert_matches(est, ens, probe_rows(ens, X, nan))


def _depth(t) -> int:
    """Longest root-to-leaf path, in edges."""
    depth = np.zeros(t.n_nodes, dtype=np.int64)
    for i in range(t.n_nodes):  # sklearn and HistGradientBoosting number children after parents
        if t.op[i] != Op.LEAF:
            depth[[t.left[i], t.right[i]]] = depth[i] + 1
    return int(depth.max())


def _fit(est, s: Shape = Shape(), task: str = "clf", nan: bool = False):
    X, y = make_data(s, task, nan)
    return est.fit(X, y), X


@pytest.mark.parametrize(
    "est",
    [
        ensemble.GradientBoostingClassifier(n_estimators=15, loss="exponential", random_state=0),
        ensemble.GradientBoostingClassifier(n_estimators=15, init="zero", random_state=0),
        ensemble.GradientBoostingClassifier(
            n_estimators=15, init=dummy.DummyClassifier(strategy="most_frequent"), random_state=0
        ),
        ensemble.GradientBoostingRegressor(n_estimators=15, loss="huber", random_state=0),
        ensemble.GradientBoostingRegressor(n_estimators=15, loss="quantile", alpha=0.8, random_state=0),
        ensemble.GradientBoostingRegressor(n_estimators=15, loss="absolute_error", subsample=0.7, random_state=0),
        ensemble.GradientBoostingRegressor(n_estimators=15, init="zero", random_state=0),
        ensemble.GradientBoostingClassifier(n_estimators=200, n_iter_no_change=2, random_state=0),
    ],
    ids=["exponential", "zero_init", "dummy_init", "huber", "quantile", "absolute", "reg_zero_init", "early_stop"],
)
def test_gradient_boosting_losses_and_inits(est) -> None:
    binary = getattr(est, "loss", "") == "exponential"
    task = "reg" if isinstance(est, ensemble.GradientBoostingRegressor) else "clf"
    est, X = _fit(est, Shape(n_classes=2 if binary else 3), task)
    ens = from_sklearn(est)
    if task == "clf":
        assert ens.decision is Decision.RAW_ARGMAX
    if binary:
        assert ens.link is Link.SIGMOID and ens.link_params == (2.0,)
    assert ens.n_trees == est.estimators_.size
    assert_matches(est, ens, probe_rows(ens, X, nan=False))


@pytest.mark.parametrize("loss", ["poisson", "gamma", "absolute_error", "quantile"])
def test_hist_gradient_boosting_regression_losses(loss: str) -> None:
    X, y = make_data(Shape(), "reg", nan=True)
    y = np.exp(y / 4) if loss in ("poisson", "gamma") else y
    extra = {"quantile": 0.8} if loss == "quantile" else {}
    est = ensemble.HistGradientBoostingRegressor(max_iter=20, loss=loss, early_stopping=False, **extra).fit(X, y)
    ens = from_sklearn(est)
    assert ens.link is (Link.EXP if loss in ("poisson", "gamma") else Link.IDENTITY)
    assert_matches(est, ens, probe_rows(ens, X, nan=True))
    np.testing.assert_allclose(emlc.interpret(ens, X), est.predict(X), rtol=1e-6)


def _categorical_data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Column 0: integer codes 0..7; column 1: odd float categories; column 2: numeric."""
    rng = np.random.default_rng(seed)
    odd = np.array([-3.0, 0.5, 2.5, 7.0, 1000.0, 1e-9])
    X = np.column_stack([rng.integers(0, 8, n), rng.choice(odd, n), rng.normal(size=n)]).astype(float)
    effect0 = np.array([0, 2, 0, 2, 1, 0, 2, 1])[X[:, 0].astype(int)]
    effect1 = np.isin(X[:, 1], [-3.0, 2.5, 1e-9]) * 1.5
    X[rng.random(X.shape) < 0.08] = np.nan
    signal = effect0 + effect1 + np.nan_to_num(X[:, 2]) + np.isnan(X[:, 0]) * 1.0
    return X, signal


def _categorical_test_rows(X: np.ndarray) -> np.ndarray:
    """Known categories, unknown ones, negatives, fractions, out-of-range and NaN."""
    rng = np.random.default_rng(3)
    probes0 = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 31, 32, 255, 256, 300, -1, -0.5, -0.0, 2.5, 7.9, 1e9, np.nan])
    probes1 = np.array([-3.0, 0.5, 2.5, 7.0, 1000.0, 1e-9, 0.0, 1.0, 2.0, 3.0, -2.9, 0.5000001, np.nan])
    T = X[rng.integers(0, X.shape[0], 400)].copy()
    T[:, 0] = rng.choice(probes0, 400)
    T[:, 1] = rng.choice(probes1, 400)
    return np.vstack([X, T])


@pytest.mark.parametrize("n_classes", [0, 2, 4], ids=["regressor", "binary", "multiclass"])
def test_hist_gradient_boosting_categorical(n_classes: int) -> None:
    X, signal = _categorical_data()
    if n_classes:
        y = np.searchsorted(np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1]), signal)
        est = ensemble.HistGradientBoostingClassifier(max_iter=15, categorical_features=[0, 1], random_state=0)
    else:
        y = signal
        est = ensemble.HistGradientBoostingRegressor(max_iter=15, categorical_features=[0, 1], random_state=0)
    est.fit(X, y)
    ens = from_sklearn(est)
    assert any((t.op == Op.CAT).any() for t in ens.trees), "the model should split on categories"
    assert ens.input_type == "float64"
    assert_matches(est, ens, _categorical_test_rows(X))


def test_hist_gradient_boosting_reorders_categorical_columns() -> None:
    """The categorical column is last in the input but first inside scikit-learn."""
    X, signal = _categorical_data()
    X = X[:, [2, 1, 0]]
    est = ensemble.HistGradientBoostingRegressor(max_iter=10, categorical_features=[2]).fit(X, signal)
    ens = from_sklearn(est)
    cat_features = {int(f) for t in ens.trees for f in t.feature[t.op == Op.CAT]}
    assert cat_features == {2}
    assert ens.feature_ranks[2] is not None and ens.feature_ranks[0] is None
    assert_matches(est, ens, _categorical_test_rows(X[:, [2, 1, 0]])[:, [2, 1, 0]])


def test_tree_with_infinite_threshold_routes_nan_exactly() -> None:
    """A split that separates only missing values keeps threshold +inf in the IR."""
    X = np.array([[1.0], [2.0], [3.0], [4.0], [np.nan], [np.nan]])
    y = np.array([0, 0, 0, 0, 1, 1])
    est = tree.DecisionTreeClassifier().fit(X, y)
    ens = from_sklearn(est)
    assert np.isinf(ens.trees[0].threshold).any()
    T = np.array([[np.nan], [1.0], [3.4e38], [-3.4e38], [4.0], [0.0]])
    assert_matches(est, ens, T)
    assert list(emlc.interpret(ens, T)) == [1, 0, 0, 0, 0, 0]


def test_hist_gradient_boosting_binary_zero_margin_is_class_zero() -> None:
    """Balanced leaves give raw == 0 exactly; scikit-learn's ``raw > 0`` then says class 0."""
    X = np.repeat(np.arange(4.0), 50)[:, None]
    y = np.tile([0, 1], 100)
    y[:50], y[50:100] = 1, 0
    est = ensemble.HistGradientBoostingClassifier(max_iter=1, min_samples_leaf=20).fit(X, y)
    rows = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert list(est.decision_function(rows)[2:]) == [0.0, 0.0]
    ens = from_sklearn(est)
    assert list(emlc.interpret(ens, rows)) == [1, 0, 0, 0]
    assert_matches(est, ens, rows)


def test_isolation_forest_contamination_and_feature_subsets() -> None:
    X, _ = make_data(Shape(n_features=6), "anomaly", nan=False)
    est = ensemble.IsolationForest(n_estimators=30, max_features=3, contamination=0.1, random_state=0).fit(X)
    ens = from_sklearn(est)
    assert ens.link is Link.ISOLATION and ens.link_params[1] == est.offset_
    assert ens.decision is Decision.SIGN
    rows = probe_rows(ens, X, nan=False)
    assert_matches(est, ens, rows)
    assert set(np.unique(emlc.interpret(ens, rows))) == {-1, 1}


def test_feature_names_and_classes_are_kept() -> None:
    est, _ = _fit(ensemble.RandomForestClassifier(n_estimators=3, random_state=0), Shape(labels="str"))
    est.feature_names_in_ = np.array(["a", "b", "c", "d", "e"], dtype=object)
    ens = from_sklearn(est)
    assert ens.feature_names == ("a", "b", "c", "d", "e")
    assert list(ens.classes) == ["cat", "dog", "emu"]
    verify(ens)


# --- errors -------------------------------------------------------------------------


def test_unsupported_estimator_names_it_and_lists_supported() -> None:
    est, _ = _fit(linear_model.LogisticRegression())
    with pytest.raises(EmlcError, match=r"unsupported scikit-learn estimator LogisticRegression.*RandomForestClassifier"):
        from_sklearn(est)


def test_pipeline_is_refused_with_a_hint() -> None:
    pipe, _ = _fit(pipeline.make_pipeline(preprocessing.StandardScaler(), tree.DecisionTreeClassifier()))
    with pytest.raises(EmlcError, match=r"Pipeline.*pipeline\[-1\]"):
        from_sklearn(pipe)


def test_adaboost_is_unsupported() -> None:
    est, _ = _fit(ensemble.AdaBoostClassifier(n_estimators=3))
    with pytest.raises(EmlcError, match="AdaBoostClassifier"):
        from_sklearn(est)


@pytest.mark.parametrize("est", [tree.DecisionTreeClassifier(), ensemble.HistGradientBoostingRegressor(),
                                 ensemble.IsolationForest()], ids=lambda e: type(e).__name__)
def test_unfitted_estimator(est) -> None:
    with pytest.raises(EmlcError, match="not fitted.*fit"):
        from_sklearn(est)


@pytest.mark.parametrize("est", [tree.DecisionTreeRegressor(max_depth=2),
                                 ensemble.RandomForestClassifier(n_estimators=2)], ids=lambda e: type(e).__name__)
def test_multi_output_is_refused(est) -> None:
    X, y = make_data(Shape(), "clf", nan=False)
    est.fit(X, np.column_stack([y, y[::-1]]))
    with pytest.raises(EmlcError, match="multi-output.*2 outputs"):
        from_sklearn(est)


@pytest.mark.parametrize(
    "init",
    [tree.DecisionTreeClassifier(max_depth=1), dummy.DummyClassifier(strategy="stratified")],
    ids=["tree_init", "stratified_dummy"],
)
def test_gradient_boosting_with_input_dependent_init_is_refused(init) -> None:
    est, _ = _fit(ensemble.GradientBoostingClassifier(n_estimators=3, init=init))
    with pytest.raises(EmlcError, match=r"init=.*unsupported.*supported init"):
        from_sklearn(est)


def test_hist_gradient_boosting_string_categories_are_refused() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.choice(["red", "green", "blue"], 200), rng.normal(size=200)]).astype(object)
    X[:, 1] = X[:, 1].astype(float)
    y = (X[:, 0] == "red").astype(int)
    est = ensemble.HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]).fit(X, y)
    with pytest.raises(EmlcError, match="non-numeric categories"):
        from_sklearn(est)
