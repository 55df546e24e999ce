"""XGBoost frontend: the IR predicts exactly what XGBoost predicts, from objects and files."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

from emlc.errors import EmlcError  # noqa: E402
from emlc.frontends.xgboost import decode_ubjson, from_xgboost  # noqa: E402
from emlc.ir import Op, Task, interpret, interpret_raw, interpret_value  # noqa: E402
from emlc.ir.text import print_ir  # noqa: E402
from emlc.ir.verify import verify  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning)
CAT = 3  # the categorical column of data()


def data(n: int = 300, n_features: int = 5, seed: int = 0, cat: bool = True):
    """Rows with NaNs, a constant column and (optionally) a categorical column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    X[:, -1] = 1.5  # constant
    if cat:
        X[:, CAT] = rng.integers(0, 7, n)
    X[rng.random(X.shape) < 0.08] = np.nan
    score = np.nan_to_num(X[:, 0]) + (np.nan_to_num(X[:, CAT]) % 3 == 0 if cat else 0)
    return X, score


def types(n_features: int, cat: bool = True) -> list[str]:
    return ["c" if cat and f == CAT else "q" for f in range(n_features)]


def edge_rows(ens, X: np.ndarray) -> np.ndarray:
    """Copies of X with every threshold, its float32 neighbours and odd categories patched in."""
    rows = [X]
    for tree in ens.trees:
        for f, t, op in zip(tree.feature, tree.threshold, tree.op):
            if op == Op.LEAF:
                continue
            t32 = np.float32(t)
            for v in (t32, np.nextafter(t32, np.float32(-np.inf)), np.nextafter(t32, np.float32(np.inf))):
                r = X[: 1].copy()
                r[0, f] = v
                rows.append(r)
    odd = X[:8].copy()
    if ens.cat_sets.shape[0]:
        odd[:, CAT] = [-0.5, -0.0, 0.5, -1, 7, 1e9, 3e38, np.nan]
    rows.append(odd)
    return np.vstack(rows).astype(np.float32)


def check(booster, X: np.ndarray, feature_types=None, ens=None):
    ens = verify(ens or from_xgboost(booster))
    Xt = edge_rows(ens, X)
    d = xgb.DMatrix(Xt, feature_types=feature_types, enable_categorical=feature_types is not None)
    ref = booster.predict(d)
    if ref.ndim == 1 and ens.n_outputs > 1:  # multi:softmax predicts the class
        np.testing.assert_array_equal(interpret(ens, Xt), ref)
    else:
        got = interpret_value(ens, Xt)
        np.testing.assert_allclose(got.reshape(ref.shape), ref, rtol=1e-6, atol=1e-7)
    margin = interpret_raw(ens, Xt)
    ref_margin = booster.predict(d, output_margin=True).reshape(margin.shape)
    np.testing.assert_array_equal(margin.astype(np.float32), ref_margin)
    return ens, Xt


OBJECTIVES = [
    ("binary:logistic", lambda s: s > 0.3),
    ("binary:logitraw", lambda s: s > 0.3),
    ("reg:logistic", lambda s: (s > 0.3) * 0.8),
    ("reg:squarederror", lambda s: s),
    ("reg:absoluteerror", lambda s: s),
    ("reg:pseudohubererror", lambda s: s),
    ("count:poisson", lambda s: np.abs(np.round(s))),
    ("reg:gamma", lambda s: np.abs(s) + 0.5),
    ("reg:tweedie", lambda s: np.abs(s)),
    ("rank:ndcg", lambda s: np.clip(np.round(s), 0, 3)),
    ("multi:softprob", lambda s: np.clip(np.round(s), -1, 1) + 1),
    ("multi:softmax", lambda s: np.clip(np.round(s), -1, 1) + 1),
]


@pytest.mark.parametrize("booster_kind", ["gbtree", "dart"])
@pytest.mark.parametrize("objective,label", OBJECTIVES, ids=[o for o, _ in OBJECTIVES])
def test_objectives_match_xgboost(objective, label, booster_kind):
    X, s = data()
    ft = types(X.shape[1])
    d = xgb.DMatrix(X, label(s), feature_types=ft, enable_categorical=True)
    if objective.startswith("rank"):
        d.set_group([150, 150])
    params = {"objective": objective, "max_depth": 4, "booster": booster_kind, "max_cat_to_onehot": 1}
    if booster_kind == "dart":
        params.update(rate_drop=0.3, seed=1)
    if objective.startswith("multi"):
        params["num_class"] = 3
    booster = xgb.train(params, d, 6)
    ens, _ = check(booster, X, ft)
    assert ens.accum_dtype == "float32" and ens.threshold_dtype == np.float32
    if objective.startswith("multi"):
        assert ens.n_outputs == 3 and list(ens.tree_output[:3]) == [0, 1, 2]


def test_categorical_guard_for_invalid_negative_categories():
    X, s = data(seed=3)
    ft = types(X.shape[1])
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "max_cat_to_onehot": 1},
        xgb.DMatrix(X, np.nan_to_num(X[:, CAT]) != 0, feature_types=ft, enable_categorical=True),
        3,
    )
    ens, Xt = check(booster, X, ft)
    guards = [t for t in ens.trees if np.any((t.op == Op.LT) & (t.threshold == 0) & (t.feature == CAT))]
    assert guards, "category 0 is in a split set, so (-1, 0) needs a guard"
    row = X[:1].copy()
    row[0, CAT] = -0.5
    d = xgb.DMatrix(row, feature_types=ft, enable_categorical=True)
    assert interpret_value(ens, row)[0, 0] == pytest.approx(booster.predict(d)[0], rel=1e-6)


@pytest.mark.parametrize(
    "n_features,depth,rounds,n_class",
    [(1, 1, 1, 0), (200, 2, 3, 0), (5, 10, 4, 0), (5, 1, 500, 0), (5, 3, 3, 10), (5, 3, 3, 2)],
)
def test_shapes(n_features, depth, rounds, n_class):
    X, s = data(n=400, n_features=n_features, cat=False, seed=n_features)
    params = {"max_depth": depth, "objective": "reg:squarederror"}
    y = s
    if n_class:
        params.update(objective="multi:softprob", num_class=n_class)
        y = np.digitize(s, np.quantile(s, np.linspace(0, 1, n_class + 1)[1:-1]))
    booster = xgb.train(params, xgb.DMatrix(X, y), rounds)
    ens, _ = check(booster, X)
    assert ens.n_trees == rounds * max(n_class, 1)


def test_sklearn_classifier_uses_best_iteration_and_predicts_labels():
    X, s = data(n=400, cat=False, seed=5)
    y = (s > 0.2).astype(int)
    clf = xgb.XGBClassifier(n_estimators=60, max_depth=3, learning_rate=0.5, early_stopping_rounds=3)
    clf.fit(X[:300], y[:300], eval_set=[(X[300:], y[300:])], verbose=False)
    assert clf.best_iteration + 1 < 60
    ens = verify(from_xgboost(clf))
    assert ens.n_trees == clf.best_iteration + 1
    Xt = edge_rows(ens, X)
    np.testing.assert_array_equal(interpret(ens, Xt), clf.predict(Xt))
    np.testing.assert_allclose(interpret_value(ens, Xt)[:, 0], clf.predict_proba(Xt)[:, 1], rtol=1e-6)


def test_sklearn_multiclass_and_regressor_and_ranker():
    X, s = data(n=300, cat=False, seed=6)
    y = np.digitize(s, [-0.5, 0.5])
    clf = xgb.XGBClassifier(n_estimators=5, max_depth=3).fit(X, y)
    ens = from_xgboost(clf)
    np.testing.assert_array_equal(interpret(ens, X), clf.predict(X))
    reg = xgb.XGBRegressor(n_estimators=5, max_depth=3).fit(X, s)
    np.testing.assert_allclose(interpret(from_xgboost(reg), X), reg.predict(X), rtol=1e-6)
    rank = xgb.XGBRanker(n_estimators=5, max_depth=3).fit(X, y, qid=np.repeat([0, 1, 2], 100))
    ens = from_xgboost(rank)
    assert ens.task is Task.RANKING
    np.testing.assert_allclose(interpret(ens, X), rank.predict(X), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_file_round_trip_gives_same_ir(tmp_path, suffix):
    X, s = data()
    ft = types(X.shape[1])
    d = xgb.DMatrix(X, np.clip(np.round(s), -1, 1) + 1, feature_types=ft, enable_categorical=True)
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_cat_to_onehot": 1}, d, 3)
    path = tmp_path / f"model{suffix}"
    booster.save_model(path)
    assert print_ir(from_xgboost(path)) == print_ir(from_xgboost(booster))
    assert print_ir(from_xgboost(str(path))) == print_ir(from_xgboost(booster))


def test_sklearn_file_keeps_best_iteration(tmp_path):
    X, s = data(n=300, cat=False, seed=8)
    y = (s > 0).astype(int)
    clf = xgb.XGBClassifier(n_estimators=40, max_depth=2, learning_rate=0.8, early_stopping_rounds=2)
    clf.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])], verbose=False)
    clf.save_model(tmp_path / "clf.json")
    ens = from_xgboost(tmp_path / "clf.json")
    assert ens.n_trees == clf.best_iteration + 1
    np.testing.assert_array_equal(interpret(ens, X), clf.predict(X))


def test_ubjson_decoder_reads_xgboost_documents():
    X, s = data(n=100, cat=False)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(X, s), 2)
    ubj = decode_ubjson(bytes(booster.save_raw("ubj")))
    doc = json.loads(bytes(booster.save_raw("json")))
    assert ubj["learner"]["objective"] == doc["learner"]["objective"]
    tree_u = ubj["learner"]["gradient_booster"]["model"]["trees"][1]
    tree_j = doc["learner"]["gradient_booster"]["model"]["trees"][1]
    assert np.array_equal(np.float32(tree_u["split_conditions"]), np.float32(tree_j["split_conditions"]))
    assert tree_u["left_children"] == tree_j["left_children"]


@pytest.mark.parametrize(
    "blob,message",
    [
        (b"{L\x00\x00\x00\x00\x00\x00\x00\x07learn", "truncated"),
        (b"[$d#L\x7f\x00\x00\x00\x00\x00\x00\x00", "cannot fit"),
        (b"[" * 100, "nesting"),
        (b"{L\x00\x00\x00\x00\x00\x00\x00\x01aX}", "unknown UBJSON marker"),
    ],
)
def test_ubjson_decoder_rejects_bad_input(blob, message):
    with pytest.raises(ValueError, match=message):
        decode_ubjson(blob)


def _saved(tmp_path, params, rounds=2, y=None):
    X, s = data(n=120, cat=False)
    booster = xgb.train(params, xgb.DMatrix(X, s if y is None else y), rounds)
    path = tmp_path / "m.json"
    booster.save_model(path)
    return booster, path


def test_errors_name_the_problem(tmp_path):
    booster, path = _saved(tmp_path, {"max_depth": 2})
    text = path.read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(EmlcError, match="not a valid XGBoost JSON"):
        from_xgboost(tmp_path / "cut.json")
    ubj = tmp_path / "m.ubj"
    booster.save_model(ubj)
    (tmp_path / "cut.ubj").write_bytes(ubj.read_bytes()[:500])
    with pytest.raises(EmlcError, match="not a valid XGBoost UBJSON.*truncated"):
        from_xgboost(tmp_path / "cut.ubj")
    (tmp_path / "lgb.txt").write_text("tree\nversion=v4\n")
    with pytest.raises(EmlcError, match="lgb.txt is not an XGBoost model"):
        from_xgboost(tmp_path / "lgb.txt")
    (tmp_path / "other.json").write_text('{"tree_info": []}')
    with pytest.raises(EmlcError, match="not an XGBoost model"):
        from_xgboost(tmp_path / "other.json")
    with pytest.raises(EmlcError, match="cannot read"):
        from_xgboost(tmp_path / "missing.json")
    with pytest.raises(EmlcError, match="cannot read an XGBoost model from int"):
        from_xgboost(3)
    with pytest.raises(EmlcError, match="not fitted"):
        from_xgboost(xgb.XGBClassifier())
    doc = json.loads(text)
    doc["learner"]["gradient_booster"]["model"]["trees"][0]["left_children"][0] = 999
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(EmlcError, match="tree 0: child index 999"):
        from_xgboost(tmp_path / "bad.json")


def test_unsupported_models_are_rejected(tmp_path):
    X, s = data(n=120, cat=False)
    linear = xgb.train({"booster": "gblinear"}, xgb.DMatrix(X, s), 2)
    with pytest.raises(EmlcError, match="booster 'gblinear' is not supported.*gbtree"):
        from_xgboost(linear)
    hinge = xgb.train({"objective": "binary:hinge"}, xgb.DMatrix(X, s > 0), 2)
    with pytest.raises(EmlcError, match="objective 'binary:hinge' is not supported"):
        from_xgboost(hinge)
    multi = xgb.train({"tree_method": "hist"}, xgb.DMatrix(X, np.stack([s, -s], axis=1)), 2)
    with pytest.raises(EmlcError, match="num_target > 1"):
        from_xgboost(multi)
