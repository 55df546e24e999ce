"""LightGBM frontend: the IR predicts exactly what LightGBM predicts on float32 rows."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")

from emlc.errors import EmlcError  # noqa: E402
from emlc.frontends.lightgbm import ZERO, from_lightgbm  # noqa: E402
from emlc.ir import Aggregation, Op, Task, interpret, interpret_proba, interpret_raw, interpret_value  # noqa: E402
from emlc.ir.text import print_ir  # noqa: E402
from emlc.ir.verify import verify  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning)
CAT = 3
BASE = {"verbose": -1, "num_threads": 1, "min_data_in_leaf": 5, "min_data_per_group": 5, "cat_smooth": 1}


def data(n: int = 500, n_features: int = 6, seed: int = 0, nan_cat: bool = True):
    """NaNs (not in column 2), exact zeros in column 4, a constant column, a categorical column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    X[:, -1] = 2.0
    if n_features > 4:
        X[:, CAT] = rng.integers(0, 9, n)
        X[:, 4] = np.where(rng.random(n) < 0.4, 0.0, X[:, 4])
    X[rng.random(X.shape) < 0.08] = np.nan
    X[:, min(2, n_features - 1)] = np.nan_to_num(X[:, min(2, n_features - 1)])
    if n_features > 4 and not nan_cat:
        X[:, CAT] = np.nan_to_num(X[:, CAT])
    score = np.nan_to_num(X[:, 0]) + (np.nan_to_num(X[:, CAT]) % 3 == 0 if n_features > 4 else 0)
    if n_features > 4:
        score = score + (np.nan_to_num(X[:, 4]) > 0.3)
    return X, score


def edge_rows(ens, X: np.ndarray) -> np.ndarray:
    """X as float32 plus rows on every threshold, its float32 neighbours, the zero band and odd categories."""
    X = X.astype(np.float32)
    z = np.float32(ZERO)
    special = [0.0, -0.0, z, -z, np.nextafter(z, np.float32(1)), -np.nextafter(z, np.float32(1)), 1e-36, -1e-36, np.nan, -0.5, 0.5, -3, 1e10, np.inf, -np.inf]
    rows = [X]
    for f in range(X.shape[1]):
        r = np.repeat(X[:1], len(special), axis=0)
        r[:, f] = special
        rows.append(r)
    for tree in ens.trees:
        for f, t, op in zip(tree.feature, tree.threshold, tree.op):
            if op in (Op.LE, Op.LT):
                t32 = np.float32(t)
                r = np.repeat(X[1:2], 3, axis=0)
                r[:, f] = [t32, np.nextafter(t32, np.float32(-np.inf)), np.nextafter(t32, np.float32(np.inf))]
                rows.append(r)
    return np.vstack(rows)


def check(booster, X, ens=None):
    ens = verify(ens or from_lightgbm(booster))
    Xt = edge_rows(ens, X)
    ref = booster.predict(Xt)
    got = interpret_value(ens, Xt).reshape(ref.shape)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-12)
    return ens, Xt


def train(params, X, y, rounds=8, group=None, categorical=(CAT,)):
    ds = lgb.Dataset(X, y, categorical_feature=list(categorical) if X.shape[1] > 4 else "auto")
    if group is not None:
        ds.set_group(group)
    return lgb.train({**BASE, **params}, ds, rounds)


OBJECTIVES = [
    ("binary", lambda s: s > 0.8),
    ("multiclass", lambda s: np.clip(np.round(s), 0, 2)),
    ("multiclassova", lambda s: np.clip(np.round(s), 0, 2)),
    ("regression", lambda s: s),
    ("regression_l1", lambda s: s),
    ("huber", lambda s: s),
    ("quantile", lambda s: s),
    ("poisson", lambda s: np.abs(np.round(s))),
    ("gamma", lambda s: np.abs(s) + 0.5),
    ("tweedie", lambda s: np.abs(s)),
    ("lambdarank", lambda s: np.clip(np.round(s), 0, 3).astype(int)),
    ("cross_entropy", lambda s: (s > 0.8) * 0.9),
]


@pytest.mark.parametrize("boosting", ["gbdt", "rf"])
@pytest.mark.parametrize("objective,label", OBJECTIVES, ids=[o for o, _ in OBJECTIVES])
def test_objectives_match_lightgbm(objective, label, boosting):
    X, s = data()
    params = {"objective": objective, "num_leaves": 9, "boosting": boosting}
    if boosting == "rf":
        params.update(bagging_fraction=0.6, bagging_freq=1)
    if objective.startswith("multi"):
        params["num_class"] = 3
    if objective == "binary":
        params["sigmoid"] = 0.7
    booster = train(params, X, label(s), group=[250, 250] if objective == "lambdarank" else None)
    ens, _ = check(booster, X)
    if boosting == "rf" and not objective.startswith("multi"):
        assert ens.aggregation is Aggregation.MEAN
    if objective == "binary":
        assert ens.link_params == (0.7,)


@pytest.mark.parametrize(
    "params",
    [
        {"zero_as_missing": True},  # missing type Zero
        {"use_missing": False},  # missing type None: NaN reads as 0.0
        {},
    ],
    ids=["zero", "none", "nan"],
)
@pytest.mark.parametrize("nan_cat", [True, False])
def test_missing_types_and_categories(params, nan_cat):
    X, s = data(seed=2, nan_cat=nan_cat)
    booster = train({"objective": "regression", "num_leaves": 15, **params}, X, s, rounds=10)
    ens, _ = check(booster, X)
    assert any(np.any(t.op == Op.CAT) for t in ens.trees)


def test_zero_band_guard_is_needed_and_exact():
    X, s = data(seed=4)
    booster = train({"objective": "regression", "num_leaves": 15, "zero_as_missing": True}, X, s)
    ens, _ = check(booster, X)
    assert any(np.any(t.threshold == -ZERO) for t in ens.trees), "Zero missing type needs a band guard"
    rows = np.repeat(X[:1].astype(np.float32), 4, axis=0)
    rows[:, 4] = [1e-36, -1e-36, np.float32(ZERO), np.nan]
    np.testing.assert_allclose(interpret_value(ens, rows)[:, 0], booster.predict(rows), rtol=1e-12)


@pytest.mark.parametrize(
    "n_features,num_leaves,rounds,n_class",
    [(1, 2, 1, 0), (200, 4, 3, 0), (6, 64, 3, 0), (6, 2, 500, 0), (6, 4, 3, 10)],
)
def test_shapes(n_features, num_leaves, rounds, n_class):
    X, s = data(n=400, n_features=n_features, seed=n_features)
    params = {"objective": "regression", "num_leaves": num_leaves}
    y = s
    if n_class:
        params.update(objective="multiclass", num_class=n_class)
        y = np.digitize(s, np.quantile(s, np.linspace(0, 1, n_class + 1)[1:-1]))
    booster = train(params, X, y, rounds=rounds)
    ens, _ = check(booster, X)
    assert ens.n_trees == rounds * max(n_class, 1)


def test_single_leaf_trees():
    X, s = data(n=100)
    booster = train({"objective": "regression", "min_data_in_leaf": 1000}, X, s, rounds=3)
    ens, _ = check(booster, X)
    assert all(t.n_nodes == 1 for t in ens.trees)


@pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")  # eval_y skips label encoding
def test_sklearn_classifier_labels_and_best_iteration():
    X, s = data(n=600, seed=7)
    labels = np.array(["low", "mid", "high"])[np.clip(np.round(s), 0, 2).astype(int)]
    clf = lgb.LGBMClassifier(n_estimators=200, num_leaves=7, learning_rate=0.3, verbose=-1, n_jobs=1)
    clf.fit(X[:400], labels[:400], eval_set=[(X[400:], labels[400:])], callbacks=[lgb.early_stopping(3, verbose=False)])
    assert 0 < clf.best_iteration_ < 200
    ens = verify(from_lightgbm(clf))
    assert ens.n_trees == 3 * clf.best_iteration_
    Xt = edge_rows(ens, X)
    np.testing.assert_array_equal(interpret(ens, Xt), clf.predict(Xt))
    np.testing.assert_allclose(interpret_proba(ens, Xt), clf.predict_proba(Xt), rtol=1e-6, atol=1e-12)


def test_sklearn_binary_regressor_and_ranker():
    X, s = data(n=300, seed=8)
    clf = lgb.LGBMClassifier(n_estimators=5, num_leaves=5, verbose=-1, n_jobs=1).fit(X, s > 0.8)
    np.testing.assert_array_equal(interpret(from_lightgbm(clf), X.astype(np.float32)), clf.predict(X.astype(np.float32)))
    reg = lgb.LGBMRegressor(n_estimators=5, num_leaves=5, verbose=-1, n_jobs=1).fit(X, s)
    np.testing.assert_allclose(interpret(from_lightgbm(reg), X.astype(np.float32)), reg.predict(X.astype(np.float32)), rtol=1e-9)
    rank = lgb.LGBMRanker(n_estimators=5, num_leaves=5, verbose=-1, n_jobs=1, min_child_samples=5)
    rank.fit(X, np.clip(np.round(s), 0, 3).astype(int), group=[100, 100, 100])
    ens = from_lightgbm(rank)
    assert ens.task is Task.RANKING
    np.testing.assert_allclose(interpret(ens, X.astype(np.float32)), rank.predict(X.astype(np.float32)), rtol=1e-9)


def test_files_give_the_same_ir(tmp_path):
    X, s = data()
    booster = train({"objective": "multiclass", "num_class": 3, "num_leaves": 9}, X, np.clip(np.round(s), 0, 2))
    expected = print_ir(from_lightgbm(booster))
    booster.save_model(tmp_path / "model.txt")
    (tmp_path / "dump.json").write_text(json.dumps(booster.dump_model()))
    assert print_ir(from_lightgbm(tmp_path / "model.txt")) == expected
    assert print_ir(from_lightgbm(str(tmp_path / "dump.json"))) == expected
    assert print_ir(from_lightgbm(booster.dump_model())) == expected


def _model_text(**params) -> str:
    X, s = data(n=200)
    return train({"objective": "regression", "num_leaves": 5, **params}, X, s, rounds=3).model_to_string()


def test_errors_name_the_problem(tmp_path):
    text = _model_text()
    lines = text.split("\n")
    cut = next(i for i, line in enumerate(lines) if line.startswith("Tree=1")) + 4
    (tmp_path / "cut.txt").write_text("\n".join(lines[:cut]))
    with pytest.raises(EmlcError, match=r"tree at line \d+: 'leaf_value=' is missing"):
        from_lightgbm(tmp_path / "cut.txt")
    (tmp_path / "noend.txt").write_text(text[: text.index("end of trees")])
    with pytest.raises(EmlcError, match="truncated.*'end of trees' is missing"):
        from_lightgbm(tmp_path / "noend.txt")
    short = text.replace("leaf_value=", "leaf_value=1 ", 1)
    (tmp_path / "short.txt").write_text(short)
    with pytest.raises(EmlcError, match=r"line \d+: 'leaf_value' has \d+ values, expected"):
        from_lightgbm(tmp_path / "short.txt")
    (tmp_path / "bad.json").write_text('{"tree_info": [')
    with pytest.raises(EmlcError, match="not valid JSON"):
        from_lightgbm(tmp_path / "bad.json")
    (tmp_path / "x.json").write_text('{"learner": {}}')
    with pytest.raises(EmlcError, match="not a LightGBM dump_model"):
        from_lightgbm(tmp_path / "x.json")
    (tmp_path / "x.bin").write_bytes(b"\x00\xff\x10binary")
    with pytest.raises(EmlcError, match="not a LightGBM model"):
        from_lightgbm(tmp_path / "x.bin")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(EmlcError, match="not a LightGBM model"):
        from_lightgbm(tmp_path / "x.csv")
    with pytest.raises(EmlcError, match="not fitted"):
        from_lightgbm(lgb.LGBMRegressor())
    with pytest.raises(EmlcError, match="cannot read a LightGBM model from list"):
        from_lightgbm([1])


def _many_categories(rounds: int = 6):
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.integers(0, 700, 3000).astype(float), rng.normal(size=3000)])
    y = ((X[:, 0] % 7 < 3) ^ (X[:, 1] > 0)).astype(float)
    params = {**BASE, "objective": "binary", "max_cat_to_onehot": 2, "max_cat_threshold": 256, "num_leaves": 8}
    return lgb.train(params, lgb.Dataset(X, y, categorical_feature=[0]), rounds), X


def test_categorical_bitsets_are_uint32_words_in_text_and_json_dumps():
    """700 categories: cat_threshold words with bit 31 set load from text and from the JSON
    dump and agree with LightGBM on codes above 31 and 600, negative, NaN and fractional ones."""
    booster, X = _many_categories()
    text = booster.model_to_string()
    words = [int(w) for line in text.splitlines() if line.startswith("cat_threshold=") for w in line[14:].split()]
    assert max(words) >= 2**31
    codes = np.r_[np.arange(-3, 720), [np.nan, -0.5, -1e-40, 1e-40, 31.5, 31.999999999, 32.0, 600.5, 699.9, 1e6, 3e9]]
    rows = np.column_stack([codes, np.linspace(-2, 2, codes.size)])
    want = booster.predict(rows, raw_score=True)
    for ens in (from_lightgbm(booster), from_lightgbm(booster.dump_model())):
        assert ens.input_type == "float64" and ens.cat_sets.shape[1] * 32 > 600
        np.testing.assert_array_equal(interpret_raw(ens, rows).ravel(), want)


def test_category_words_outside_uint32_and_huge_categories_are_refused(tmp_path):
    """Words outside uint32 are corrupt; a category emlc's bitsets cannot hold is an error
    naming the split (it was dropped, sending that code the wrong way)."""
    booster, _ = _many_categories(rounds=1)
    text = booster.model_to_string()
    for word in ("4294967296", "-1"):
        (tmp_path / "m.txt").write_text(text.replace("cat_threshold=", f"cat_threshold={word} ", 1))
        with pytest.raises(EmlcError, match=r"'cat_threshold' holds a value outside \[0, 4294967296\)"):
            from_lightgbm(tmp_path / "m.txt")
    dump = booster.dump_model()
    node = dump["tree_info"][0]["tree_structure"]
    while node.get("decision_type") != "==":
        node = node["left_child"] if "split_index" in node["left_child"] else node["right_child"]
    node["threshold"] = "3||16777216"
    with pytest.raises(EmlcError, match="lists category 16777216; emlc's bitsets hold categories below 16,777,216"):
        from_lightgbm(dump)


def test_unsupported_models_are_rejected():
    X, s = data(n=200)
    linear = train({"objective": "regression", "linear_tree": True}, X[:, :3], s, categorical=())
    with pytest.raises(EmlcError, match="linear trees"):
        from_lightgbm(linear)
    with pytest.raises(EmlcError, match="reg_sqrt"):
        from_lightgbm(train({"objective": "regression", "reg_sqrt": True}, X, s))
    xl = train({"objective": "cross_entropy_lambda"}, X, s > 0.8)
    with pytest.raises(EmlcError, match="objective 'cross_entropy_lambda' is not supported"):
        from_lightgbm(xl)
