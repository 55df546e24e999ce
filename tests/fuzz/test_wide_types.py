"""Models past the 8/16-bit ranges still compile to correct C; models too big for a target are refused.

More than 255 features, a tree with more than 65,535 nodes, more than 255 classes
and a leaf table over 65,535 rows each force a wider index type somewhere; the C is
compiled on the host and must agree with the reference interpreter.
"""

from __future__ import annotations

import numpy as np
import pytest

from emlc.errors import EmlcError
from emlc.ir import Aggregation, Decision, Ensemble, Op, Task, Tree, interpret
from emlc.ir.verify import verify
from tests.conftest import require_tool


def complete_tree(depth: int, n_features: int, first_leaf_row: int, rng) -> Tree:
    """A complete binary tree: node i has children 2i+1 and 2i+2; leaves take consecutive rows."""
    n_inner = 2**depth - 1
    n = 2 * n_inner + 1
    inner = np.arange(n_inner)
    is_inner = np.arange(n) < n_inner
    return Tree.build(
        op=np.where(is_inner, Op.LE, Op.LEAF),
        feature=np.where(is_inner, rng.integers(0, n_features, n), -1),
        threshold=np.where(is_inner, rng.normal(0, 1, n).astype(np.float32), 0.0),
        default_left=rng.random(n) < 0.5,
        left=np.concatenate([2 * inner + 1, np.full(n - n_inner, -1)]),
        right=np.concatenate([2 * inner + 2, np.full(n - n_inner, -1)]),
        leaf=np.where(is_inner, -1, first_leaf_row + np.arange(n) - n_inner),
    )


def regression(trees: list[Tree], n_features: int, rng) -> Ensemble:
    n_rows = sum(t.n_leaves for t in trees)
    return verify(Ensemble(
        n_features=n_features, task=Task.REGRESSION, trees=tuple(trees),
        tree_output=np.zeros(len(trees), np.int32),
        leaves=rng.normal(0, 1, (n_rows, 1)), n_outputs=1, name="wide",
    ))


def rows(n_features: int, n: int = 64) -> np.ndarray:
    X = np.random.default_rng(9).normal(0, 1, size=(n, n_features)).astype(np.float32)
    X[::5, ::3] = np.nan
    return X


def _check(ens: Ensemble, layout: str = "table") -> None:
    require_tool("gcc")
    from tests.e2e.harness import run_model

    X = rows(ens.n_features)
    got = run_model(ens, X, "host", layout=layout, name="wide")
    want = interpret(ens, X)
    if ens.task is Task.REGRESSION:
        np.testing.assert_allclose(got.predict, want.astype(np.float32), rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_array_equal(got.predict, want)


def test_more_than_255_features():
    rng = np.random.default_rng(1)
    _check(regression([complete_tree(6, 300, 64 * i, rng) for i in range(4)], 300, rng))


def test_tree_with_more_than_65535_nodes_and_leaf_rows():
    rng = np.random.default_rng(2)
    ens = regression([complete_tree(16, 8, 0, rng)], 8, rng)
    assert ens.trees[0].n_nodes > 65_535 and ens.leaves.shape[0] > 65_535
    _check(ens)


def test_more_than_255_classes():
    rng = np.random.default_rng(3)
    k = 260
    trees = [complete_tree(2, 4, 4 * i, rng) for i in range(k)]
    ens = verify(Ensemble(
        n_features=4, task=Task.CLASSIFICATION, trees=tuple(trees),
        tree_output=np.arange(k, dtype=np.int32), leaves=rng.normal(0, 1, (4 * k, 1)), n_outputs=k,
        aggregation=Aggregation.SUM, decision=Decision.RAW_ARGMAX, classes=np.arange(k), base_score=np.zeros(k),
        name="wide",
    ))
    _check(ens)


def test_model_too_big_for_the_target_is_refused_with_numbers_and_options():
    from emlc.backends.c import emit_c

    rng = np.random.default_rng(4)
    ens = regression([complete_tree(5, 10, 32 * i, rng) for i in range(1000)], 10, rng)
    with pytest.raises(EmlcError) as info:
        emit_c(ens, "rv32ec", "wide")
    msg = str(info.value)
    assert "flash" in msg and str(16 * 1024) in msg and "fewer" in msg
    assert any(ch.isdigit() for ch in msg.split("flash")[0])
