"""The vectorised interpreter agrees with a slow, obviously-correct per-row evaluator."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from emlc.ir import Aggregation, Decision, Link, Op, Task
from emlc.ir.interpret import interpret, interpret_proba, interpret_raw, interpret_value
from tests.strategies import ensembles, inputs_for


def _goes_left(ens, tree, i, x) -> bool:
    if math.isnan(x):
        return bool(tree.default_left[i])
    rank = ens.feature_ranks[tree.feature[i]] if ens.feature_ranks else None
    if rank is not None:
        x = float(sum(1 for e in rank.edges if (e <= x if rank.strict else e < x)))
    op = Op(int(tree.op[i]))
    t = float(tree.threshold[i])
    if op is Op.LE:
        return x <= t
    if op is Op.LT:
        return x < t
    words = ens.cat_sets[tree.cat[i]]
    if not (x > -1 and x < 32 * len(words)):
        return False
    c = int(x)  # truncates toward zero
    return bool((int(words[c // 32]) >> (c % 32)) & 1)


def _leaf_row(ens, tree, row) -> int:
    i = 0
    while tree.op[i] != Op.LEAF:
        x = float(np.asarray(row[tree.feature[i]]).astype(ens.input_type))
        i = tree.left[i] if _goes_left(ens, tree, i, x) else tree.right[i]
    return int(tree.leaf[i])


def slow_raw(ens, row) -> list[float]:
    """Accumulate leaf rows tree by tree with Python scalars of the IR's dtypes."""
    values = ens.leaf_values()
    if ens.aggregation is Aggregation.VOTE:
        votes = [0] * ens.n_outputs
        for k, tree in enumerate(ens.trees):
            r = _leaf_row(ens, tree, row)
            votes[int(ens.tree_output[k]) + int(np.argmax(values[r]))] += 1
        return [v / ens.n_trees + b for v, b in zip(votes, ens.base_score)]
    integer = ens.leaves.dtype.kind in "iu"
    dt = np.dtype(ens.accum_dtype).type
    start = ens.aggregation is Aggregation.SUM and not integer
    acc = [dt(b) if start else (0 if integer else dt(0)) for b in ens.base_score]
    for k, tree in enumerate(ens.trees):
        r = _leaf_row(ens, tree, row)
        for j in range(ens.leaf_width):
            o = int(ens.tree_output[k]) + j
            acc[o] = acc[o] + (int(ens.leaves[r, j]) if integer else dt(ens.leaves[r, j]))
    if integer:
        scale = ens.leaf_scale if ens.leaf_scale is not None else np.ones(ens.leaf_width)
        acc = [dt(float(a) * float(np.resize(scale, ens.n_outputs)[o])) for o, a in enumerate(acc)]
    if ens.aggregation is Aggregation.MEAN:
        acc = [a / dt(ens.n_trees) for a in acc]
    if not start:
        acc = [a + dt(b) for a, b in zip(acc, ens.base_score)]
    return [float(a) for a in acc]


@given(st.data())
def test_interpreter_matches_per_row_evaluator(data):
    ens = data.draw(ensembles())
    X = data.draw(inputs_for(ens))
    raw = interpret_raw(ens, X)
    expected = np.array([slow_raw(ens, row) for row in X])
    np.testing.assert_array_equal(raw, expected)
    labels = interpret(ens, X)
    assert len(labels) == len(X)


def test_binary_decisions_follow_each_library():
    """A margin that rounds to p == 0.5 separates the three binary decision rules."""
    from emlc.ir import Ensemble, Tree

    tree = Tree.build(op=[0], feature=[-1], threshold=[0], left=[-1], right=[-1], leaf=[0])
    tiny = 1e-17
    base = Ensemble(
        n_features=1, task=Task.CLASSIFICATION, trees=(tree,), tree_output=np.zeros(1, np.int32),
        leaves=np.array([[tiny]]), n_outputs=1, link=Link.SIGMOID, classes=np.array([0, 1]),
        decision=Decision.RAW_ARGMAX,
    )
    X = np.zeros((1, 1))
    assert interpret(base, X)[0] == 1  # raw >= 0 (scikit-learn GradientBoosting)
    assert interpret(base.replace(decision=Decision.GT_HALF), X)[0] == 0  # p > 0.5 (XGBoost)
    assert interpret(base.replace(decision=Decision.ARGMAX), X)[0] == 0  # argmax([1-p, p])
    np.testing.assert_array_equal(interpret_proba(base, X), [[0.5, 0.5]])
    assert interpret_value(base, X)[0, 0] == 0.5
