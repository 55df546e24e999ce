"""The bulk LightGBM paths (emlc/frontends/lightgbm_bulk.py) give exactly what the per-tree
paths of emlc/frontends/lightgbm.py give: those state the rules and are the oracle.

Parsing: every key of all trees parsed at once equals the per-tree parser, and text
it cannot judge falls back to it. Lowering: all trees lowered in numpy steps equal
the per-node lowering (zero-band guards, NaN and zero-as-missing rules, single-leaf
trees, categorical trees mixed in), leaf rows and category sets included, on trained
models and on random forests drawn by hypothesis.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emlc.frontends import lightgbm as lgbf
from emlc.frontends import lightgbm_bulk as bulk

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


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


CASES = [
    dict(), dict(nan=True), dict(zero_as_missing=True, nan=True), dict(categorical=True, nan=True),
    dict(categorical=True, zero_as_missing=True), dict(n_estimators=1),
]


@pytest.mark.parametrize("case", CASES, ids=[",".join(c) or "plain" for c in CASES])
def test_bulk_lowering_matches_per_node_lowering(case: dict) -> None:
    parsed = lgbf.parse_text(_text(**case), "model")
    trees, leaves, sets, _ = bulk.lower_forest(parsed.trees, parsed.n_features)
    ref_trees, ref_leaves, ref_sets = lgbf.lower_trees(parsed.trees, parsed.n_features)
    assert len(trees) == len(ref_trees)
    assert all(a.same_as(b) for a, b in zip(trees, ref_trees))
    assert _same(leaves, ref_leaves) and _same(sets, ref_sets)
    fast, _ = bulk._numerical_trees(parsed.trees, parsed.n_features)
    assert fast.any()
    assert fast.all() is not bool(case.get("categorical"))  # categorical trees take the per-node path


def test_single_leaf_and_stump_trees_are_lowered_in_bulk() -> None:
    text = _text(nan=True, n_estimators=3)
    parsed = lgbf.parse_text(text, "model")
    one = lgbf.LgbTree(leaf_value=[0.25], where="one")
    forest = lgbf.LgbForest.of([parsed.trees.tree(0), one, parsed.trees.tree(1), one])
    assert bulk._numerical_trees(forest, parsed.n_features)[0].all()
    trees, leaves, _, columns = bulk.lower_forest(forest, parsed.n_features)
    ref_trees, ref_leaves, _ = lgbf.lower_trees(forest, parsed.n_features)
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
    return lgbf.LgbForest.of([lgbf.text_tree(v, where) for v, where in sections])


def _forests_equal(a: lgbf.LgbForest, b: lgbf.LgbForest) -> bool:
    names = ("n_splits", "n_leaves", *lgbf.LgbForest.SPLIT_COLUMNS, "leaf_value")
    return (all(_same(getattr(a, n), getattr(b, n)) for n in names)
            and a.categories == b.categories and a.where == b.where)


@pytest.mark.parametrize("case", [dict(nan=True), dict(categorical=True)], ids=["nan", "categorical"])
def test_bulk_parse_matches_per_tree_parse(case: dict) -> None:
    sections = _sections(_text(**case))
    parsed = bulk.parse_forest(sections)
    assert parsed is not None
    assert _forests_equal(parsed, _per_tree(sections))
    assert bool(parsed.categories) is bool(case.get("categorical"))


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
    assert bulk.parse_forest(sections) is None
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
    assert not bulk._numerical_trees(parsed.trees, parsed.n_features)[0][i]
    with pytest.raises(lgbf.EmlcError, match="reached twice"):
        bulk.lower_forest(parsed.trees, parsed.n_features)


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
    real = bulk._few_distinct
    monkeypatch.setattr(bulk, "_few_distinct", lambda joined: calls.append(real(joined)) or calls[-1])
    sections = _sections(_text(n_estimators=60))
    parsed = bulk.parse_forest(sections)
    assert calls and calls[0] is not None  # the threshold column took the shortcut
    assert _forests_equal(parsed, _per_tree(sections))
    tokens = ["0.10000000000000001", "-2.5", "1e-35", "0.10000000000000001", "-2.5", "-2.5", "1e-35", "7"]
    joined = " ".join(tokens)
    assert np.array_equal(real(joined), np.array([float(t) for t in tokens]))
    assert real("1 2 3 4") is None  # nothing repeats
    assert real("1 1  2 2") is None  # an empty token
    with pytest.raises(ValueError):
        real("1.5.2 1.5.2 3 3")


# ---------------------------------------------------------------- random forests

ZERO = lgbf.ZERO
#: thresholds on and around the zero band's edges (where guard nodes come and go), and plain ones.
THRESHOLDS = [
    0.0, -0.0, ZERO, -ZERO, 1e-300, -1e-300, 0.5, -1.5, 3e38, -3e38,
    *(float(np.nextafter(e, d)) for e in (ZERO, -ZERO) for d in (-1.0, 1.0)),
]
MISSING_TYPES = (lgbf._MISSING_NONE, lgbf._MISSING_ZERO, lgbf._MISSING_NAN)


@st.composite
def lgb_trees(draw, n_features: int, where: str) -> lgbf.LgbTree:
    """A LightGBM tree as its text model holds it: splits numbered in the order they were
    made (the root first), leaves numbered in any order, categorical splits' thresholds
    indexing their category sets."""
    n_leaves = draw(st.integers(1, 9))
    tree = lgbf.LgbTree(where=where)
    slots: list[tuple[int, str] | None] = [None]  # where each still open leaf hangs: (split, side)
    for s in range(n_leaves - 1):
        parent = slots.pop(draw(st.integers(0, len(slots) - 1)))
        if parent is not None:
            getattr(tree, parent[1])[parent[0]] = s
        tree.left_child.append(0)
        tree.right_child.append(0)
        slots += [(s, "left_child"), (s, "right_child")]
        tree.split_feature.append(draw(st.integers(0, n_features - 1)))
        categorical = draw(st.integers(0, 3)) == 0
        dt = (lgbf._CATEGORICAL if categorical else 0) | (lgbf._DEFAULT_LEFT if draw(st.booleans()) else 0)
        tree.decision_type.append(dt | draw(st.sampled_from(MISSING_TYPES)) << 2)
        if categorical:
            tree.threshold.append(float(len(tree.categories)))
            tree.categories[s] = draw(st.lists(st.integers(0, 70), min_size=1, max_size=5, unique=True).map(sorted))
        else:
            tree.threshold.append(draw(st.sampled_from(THRESHOLDS) | st.floats(-4, 4)))
    for leaf, slot in zip(draw(st.permutations(range(n_leaves))), slots):
        if slot is not None:
            getattr(tree, slot[1])[slot[0]] = ~leaf
    tree.leaf_value = draw(st.lists(st.floats(-1e6, 1e6), min_size=n_leaves, max_size=n_leaves))
    return tree


N_FEATURES = 3


@st.composite
def lgb_forests(draw) -> list[lgbf.LgbTree]:
    n = draw(st.integers(1, 6))
    return [draw(lgb_trees(N_FEATURES, f"m: tree at line {i}")) for i in range(n)]


def _section(tree: lgbf.LgbTree) -> dict[str, tuple[str, int]]:
    """``tree`` as the key/value lines of its ``Tree=`` section (floats as their shortest repr)."""
    def line(values) -> str:
        return " ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in values)

    keys = {"num_leaves": str(len(tree.leaf_value)), "leaf_value": line(tree.leaf_value)}
    if tree.split_feature:
        keys.update({name: line(getattr(tree, name)) for name in lgbf.LgbForest.SPLIT_COLUMNS})
    if tree.categories:
        bounds, words = [0], []
        for s in sorted(tree.categories, key=lambda s: tree.threshold[s]):
            cats = tree.categories[s]
            set_words = [0] * (max(cats) // 32 + 1)
            for c in cats:
                set_words[c // 32] |= 1 << (c % 32)
            words += set_words
            bounds.append(len(words))
        keys.update(num_cat=str(len(tree.categories)), cat_boundaries=line(bounds), cat_threshold=line(words))
    return {k: (v, i + 1) for i, (k, v) in enumerate(keys.items())}


@given(trees=lgb_forests())
def test_bulk_parse_equals_per_tree_parse_on_random_forests(trees) -> None:
    sections = [(_section(t), t.where) for t in trees]
    parsed = bulk.parse_forest(sections)
    assert parsed is not None
    assert _forests_equal(parsed, _per_tree(sections))
    assert _forests_equal(parsed, lgbf.LgbForest.of(trees))


@given(trees=lgb_forests())
def test_bulk_lowering_equals_per_node_lowering_on_random_forests(trees) -> None:
    """Zero band, NaN and None missing types, default left both ways, thresholds on the band's
    edges, categorical trees and single leaves mixed."""
    forest = lgbf.LgbForest.of(trees)
    got_trees, leaves, sets, columns = bulk.lower_forest(forest, N_FEATURES)
    ref_trees, ref_leaves, ref_sets = lgbf.lower_trees(forest, N_FEATURES)
    assert len(got_trees) == len(ref_trees) and all(a.same_as(b) for a, b in zip(got_trees, ref_trees))
    assert _same(leaves, ref_leaves) and _same(sets, ref_sets)
    assert (columns is None) is bool(forest.categories)
