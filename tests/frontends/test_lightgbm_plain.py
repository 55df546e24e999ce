"""The bulk LightGBM paths give exactly what the per-tree paths give.

Parsing: every key of all trees parsed at once equals the per-tree parser, and text
it cannot judge falls back to it. Lowering: all trees lowered in numpy steps equal
the per-node lowering (zero-band guards, NaN and zero-as-missing rules, single-leaf
trees, categorical trees mixed in), leaf rows and category sets included.
"""

from __future__ import annotations

import numpy as np
import pytest

from emlc.frontends import lightgbm as lgbf
from emlc.frontends.treebuild import Tables

lgb = pytest.importorskip("lightgbm")


def _text(zero_as_missing: bool = False, nan: bool = False, categorical: bool = False, n_estimators: int = 12) -> str:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 5))
    if nan:
        X[rng.random(X.shape) < 0.15] = np.nan
    if zero_as_missing:
        X[rng.random(X.shape) < 0.3] = 0.0
    if categorical:
        X[:, 3] = rng.integers(0, 7, len(X))
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) + (X[:, 3] % 2 if categorical else 0) > 0.5).astype(int)
    model = lgb.LGBMClassifier(n_estimators=n_estimators, num_leaves=9, min_child_samples=3, verbose=-1,
                               zero_as_missing=zero_as_missing)
    model.fit(X, y, categorical_feature=[3] if categorical else "auto")
    return model.booster_.model_to_string()


def _per_node(forest: lgbf.LgbForest, n_features: int):
    """The reference: every tree through the per-node lowering, sharing one table set."""
    tables = Tables()
    trees = tuple(lgbf._guarded_tree(forest.tree(i), n_features, tables) for i in range(len(forest)))
    return trees, tables.leaves(1, "float64"), tables.cat_sets()


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


CASES = [
    dict(), dict(nan=True), dict(zero_as_missing=True, nan=True), dict(categorical=True, nan=True),
    dict(categorical=True, zero_as_missing=True), dict(n_estimators=1),
]


@pytest.mark.parametrize("case", CASES, ids=[",".join(c) or "plain" for c in CASES])
def test_bulk_lowering_matches_per_node_lowering(case: dict) -> None:
    parsed = lgbf.parse_text(_text(**case), "model")
    trees, leaves, sets, _ = lgbf._lower_trees(parsed.trees, parsed.n_features)
    ref_trees, ref_leaves, ref_sets = _per_node(parsed.trees, parsed.n_features)
    assert len(trees) == len(ref_trees)
    assert all(a.same_as(b) for a, b in zip(trees, ref_trees))
    assert _same(leaves, ref_leaves) and _same(sets, ref_sets)
    fast, _ = lgbf._fast_trees(parsed.trees, parsed.n_features)
    assert fast.any()
    assert fast.all() is not bool(case.get("categorical"))  # categorical trees take the per-node path


def test_single_leaf_and_stump_trees_are_lowered_in_bulk() -> None:
    text = _text(nan=True, n_estimators=3)
    parsed = lgbf.parse_text(text, "model")
    one = lgbf.LgbTree(leaf_value=[0.25], where="one")
    forest = lgbf.LgbForest.of([parsed.trees.tree(0), one, parsed.trees.tree(1), one])
    assert lgbf._fast_trees(forest, parsed.n_features)[0].all()
    trees, leaves, _, columns = lgbf._lower_trees(forest, parsed.n_features)
    ref_trees, ref_leaves, _ = _per_node(forest, parsed.n_features)
    assert all(a.same_as(b) for a, b in zip(trees, ref_trees)) and _same(leaves, ref_leaves)
    assert trees[1].n_nodes == 1 and leaves[trees[1].leaf[0], 0] == 0.25
    assert all(np.array_equal(columns[c], np.concatenate([getattr(t, c) for t in trees])) for c in columns)


def _sections(text: str) -> list:
    """The per-tree key/value sections parse_text hands to the tree parsers."""
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        if line.startswith("Tree="):
            values, _ = lgbf._key_values(lines, i + 1, "m")
            out.append((values, f"m: tree at line {i + 1}"))
    return out


def _per_tree(sections) -> lgbf.LgbForest:
    return lgbf.LgbForest.of([lgbf._text_tree(v, where) for v, where in sections])


def _forests_equal(a: lgbf.LgbForest, b: lgbf.LgbForest) -> bool:
    names = ("n_splits", "n_leaves", *lgbf.LgbForest.SPLIT_COLUMNS, "leaf_value")
    return (all(_same(getattr(a, n), getattr(b, n)) for n in names)
            and a.categories == b.categories and a.where == b.where)


@pytest.mark.parametrize("case", [dict(nan=True), dict(categorical=True)], ids=["nan", "categorical"])
def test_bulk_parse_matches_per_tree_parse(case: dict) -> None:
    sections = _sections(_text(**case))
    bulk = lgbf._bulk_forest(sections)
    assert bulk is not None
    assert _forests_equal(bulk, _per_tree(sections))
    assert bool(bulk.categories) is bool(case.get("categorical"))


@pytest.mark.parametrize("edit", [
    ("threshold", lambda v: v.replace(" ", "  ", 1)),  # an empty token
    ("threshold", lambda v: v.replace(" ", "\t", 1)),
    ("leaf_value", lambda v: "1_0 " + v.split(" ", 1)[1]),  # Python reads it, the bulk reader does not
    ("left_child", lambda v: "99999999999999999999 " + v.split(" ", 1)[1]),
    ("split_feature", lambda v: "3000000000 " + v.split(" ", 1)[1]),
    ("decision_type", lambda v: "2x " + v.split(" ", 1)[1]),
    ("split_feature", lambda v: v + " 1"),
])
def test_irregular_text_takes_the_per_tree_parser(edit) -> None:
    key, change = edit
    sections = _sections(_text(n_estimators=3))
    values, line = sections[1][0][key]
    sections[1][0][key] = (change(values), line)
    assert lgbf._bulk_forest(sections) is None
    try:
        expected = _per_tree(sections)
    except lgbf.EmlcError as e:
        with pytest.raises(lgbf.EmlcError, match="tree at line"):
            lgbf._text_forest(sections)
        assert "tree at line" in str(e)
        return
    assert _forests_equal(lgbf._text_forest(sections), expected)


def test_corrupt_tree_still_reports_through_per_node_path() -> None:
    parsed = lgbf.parse_text(_text(), "model")
    i = next(i for i in range(len(parsed.trees)) if parsed.trees.n_splits[i] > 1)
    parsed.trees.left_child[parsed.trees.split_start[i] + 1] = 0  # a cycle back to the root
    assert not lgbf._fast_trees(parsed.trees, parsed.n_features)[0][i]
    with pytest.raises(lgbf.EmlcError, match="reached twice"):
        lgbf._lower_trees(parsed.trees, parsed.n_features)


def _classifier(n_estimators: int):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4))
    return lgb.LGBMClassifier(n_estimators=n_estimators, num_leaves=31, min_child_samples=2, verbose=-1).fit(
        X, (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int))


def test_booster_text_is_model_to_string_through_a_file(monkeypatch):
    booster = _classifier(20).booster_
    text = booster.model_to_string()
    assert lgbf._booster_text(booster) == text
    calls = []
    monkeypatch.setattr(type(booster), "model_to_string", lambda self, *a, **k: calls.append(1) or text)
    lgbf._booster_text(booster)
    assert calls == []


def test_booster_text_falls_back_to_memory(monkeypatch):
    booster = _classifier(3).booster_

    def no_temp(*args, **kwargs):
        raise OSError("read-only file system")

    monkeypatch.setattr(lgbf.tempfile, "TemporaryDirectory", no_temp)
    assert lgbf._booster_text(booster) == booster.model_to_string()


def test_repeated_thresholds_are_parsed_once_each(monkeypatch) -> None:
    """Thresholds (bin bounds) repeat across trees: each distinct token is parsed once, to
    the same doubles; mostly distinct tokens, empty ones or junk go the usual way."""
    calls = []
    real = lgbf._few_distinct
    monkeypatch.setattr(lgbf, "_few_distinct", lambda joined: calls.append(real(joined)) or calls[-1])
    sections = _sections(_text(n_estimators=60))
    bulk = lgbf._bulk_forest(sections)
    assert calls and calls[0] is not None  # the threshold column took the shortcut
    assert _forests_equal(bulk, _per_tree(sections))
    tokens = ["0.10000000000000001", "-2.5", "1e-35", "0.10000000000000001", "-2.5", "-2.5", "1e-35", "7"]
    joined = " ".join(tokens)
    assert np.array_equal(real(joined), np.array([float(t) for t in tokens]))
    assert real("1 2 3 4") is None  # nothing repeats
    assert real("1 1  2 2") is None  # an empty token
    with pytest.raises(ValueError):
        real("1.5.2 1.5.2 3 3")
