"""Property tests: each lossy pass stays within the error bound its docstring states."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from emlc.errors import EmlcError
from emlc.ir.ensemble import Aggregation, Op, Task
from emlc.ir.interpret import (
    interpret,
    interpret_early_exit,
    interpret_proba,
    interpret_raw,
    interpret_trees_evaluated,
    leaf_indices,
)
from emlc.ir.verify import verify
from emlc.passes import LEVELS, PASSES, pipeline
from emlc.passes.lossy import (
    cluster_leaves,
    confidence_exit,
    distinct_leaf_rows,
    hard_vote,
    leaves_per_class,
    quantize_leaves,
    reorder_trees,
    votes_as_mean,
)
from emlc.targets import TARGETS
from tests.strategies import ensembles, inputs_for

FORESTS = dict(tasks=(Task.CLASSIFICATION,), max_trees=8)


def is_forest(ens) -> bool:
    return (
        ens.aggregation in (Aggregation.MEAN, Aggregation.VOTE)
        and ens.leaf_width == ens.n_outputs == ens.n_classes
    )


def leaf_map(before, after) -> np.ndarray:
    """(old row, new row) pairs for every leaf node (trees keep their node order)."""
    pairs = [
        np.stack([a.leaf[a.op == Op.LEAF], b.leaf[b.op == Op.LEAF]], axis=1)
        for a, b in zip(before.trees, after.trees)
    ]
    return np.unique(np.concatenate(pairs), axis=0)


def on_one_grid(out) -> float:
    """The one power-of-two scale of ``out``'s integer table (its SUM base on the grid too)."""
    scale = float(out.leaf_scale[0])
    assert np.all(out.leaf_scale == scale) and np.frexp(scale)[0] == 0.5
    if out.aggregation is Aggregation.SUM:
        base = np.asarray(out.base_score, np.float64) / scale
        assert np.array_equal(base, np.rint(base))
    return scale


@given(ensembles(), st.sampled_from([8, 4]))
def test_quantized_leaves_within_half_a_scale(ens, bits):
    out = verify(quantize_leaves(ens, bits))
    assert out.leaves.dtype in (np.int8, np.uint8)
    q = out.leaves.astype(np.int64)
    if out.leaves.dtype == np.uint8:
        assert q.min() >= 0 and q.max() <= (1 << bits) - 1
    else:
        assert q.min() >= -(1 << (bits - 1)) and q.max() <= (1 << (bits - 1)) - 1
    scale = on_one_grid(out)
    err = np.abs(out.leaf_values() - ens.leaf_values())
    assert (err <= scale / 2 * (1 + 1e-12)).all()
    base_err = np.abs(np.asarray(out.base_score, np.float64) - np.asarray(ens.base_score, np.float64))
    assert (base_err <= scale / 2 * (1 + 1e-12)).all()


@given(ensembles(max_trees=4), st.data())
def test_quantized_mean_raw_moves_at_most_half_a_scale_per_tree(ens, data):
    assume(ens.aggregation is not Aggregation.VOTE)
    out = quantize_leaves(ens, 8)
    X = data.draw(inputs_for(ens))
    trees_per_output = np.zeros(ens.n_outputs)
    for o in ens.tree_output:
        trees_per_output[o : o + ens.leaf_width] += 1
    step = np.resize(out.leaf_scale, ens.n_outputs) / 2 * trees_per_output
    if ens.aggregation is Aggregation.MEAN:
        step = step / ens.n_trees
    else:  # the base score moved to the grid too
        step = step + out.leaf_scale[0] / 2
    diff = np.abs(interpret_raw(out, X) - interpret_raw(ens, X))
    slack = 1e-4 * (1 + np.abs(interpret_raw(ens, X))) if ens.accum_dtype == "float32" else 1e-9
    assert (diff <= step + slack).all()


@given(ensembles(), st.integers(1, 12))
def test_clustered_leaves_stay_inside_their_cluster_range(ens, k):
    out = verify(cluster_leaves(ens, k))
    assert out.leaves.shape[0] <= k
    pairs = leaf_map(ens, out)
    old, new = ens.leaf_values(), out.leaf_values()
    half = 0.0
    if k < distinct_leaf_rows(ens):  # centres on the 8-bit grid: half a step off the range at most
        assert out.leaves.dtype in (np.int8, np.uint8)
        half = on_one_grid(out) / 2 * (1 + 1e-12)
    else:
        assert out.leaves.dtype == ens.leaves.dtype
    for row in np.unique(pairs[:, 1]):
        members = old[pairs[pairs[:, 1] == row, 0]]
        assert (new[row] >= members.min(axis=0) - half - 1e-12).all()
        assert (new[row] <= members.max(axis=0) + half + 1e-12).all()


@given(ensembles(), st.data(), st.integers(0, 3))
def test_clustering_with_k_at_least_the_distinct_rows_is_lossless(ens, data, extra):
    out = verify(cluster_leaves(ens, distinct_leaf_rows(ens) + extra))
    X = data.draw(inputs_for(ens))
    assert out.leaves.shape[0] == distinct_leaf_rows(ens)
    np.testing.assert_array_equal(interpret_raw(out, X), interpret_raw(ens, X))
    np.testing.assert_array_equal(interpret(out, X), interpret(ens, X))


@given(ensembles(**FORESTS), st.data())
def test_hard_vote_is_a_plain_majority_of_per_tree_argmax(ens, data):
    assume(is_forest(ens))
    X = data.draw(inputs_for(ens))
    out = verify(hard_vote(ens))
    assert out.aggregation is Aggregation.VOTE and out.leaves.shape[0] == ens.n_classes
    tree_class = np.argmax(ens.leaf_values()[leaf_indices(ens, X)], axis=2)
    expected = []
    for row in tree_class:
        counts = [int(np.sum(row == c)) for c in range(ens.n_classes)]
        expected.append(counts.index(max(counts)))
    np.testing.assert_array_equal(interpret(out, X), np.asarray(ens.classes)[expected])


@given(ensembles(**FORESTS), st.data())
def test_votes_as_mean_changes_no_result(ens, data):
    assume(is_forest(ens))
    voted = hard_vote(ens)
    X = data.draw(inputs_for(ens))
    out = verify(votes_as_mean(voted))
    np.testing.assert_array_equal(interpret_proba(out, X), interpret_proba(voted, X))
    np.testing.assert_array_equal(interpret(out, X), interpret(voted, X))


@given(ensembles(tasks=(Task.CLASSIFICATION,), max_trees=8), st.data(), st.integers(1, 3))
def test_confidence_one_never_changes_a_prediction(ens, data, batch):
    X = data.draw(inputs_for(ens))
    try:
        out = verify(confidence_exit(ens, 1.0, batch))
    except EmlcError:
        assume(False)
    np.testing.assert_array_equal(interpret_early_exit(out, X), interpret(ens, X))
    assert (interpret_trees_evaluated(out, X) <= ens.n_trees).all()


@given(ensembles(**FORESTS), st.data(), st.sampled_from([0.9, 0.5, 0.2]))
def test_lower_thresholds_stop_no_later(ens, data, threshold):
    assume(is_forest(ens))
    X = data.draw(inputs_for(ens))
    try:
        exact = confidence_exit(ens, 1.0)
    except EmlcError as e:
        assert "one leaf scale" in str(e)
        assume(False)
    sooner = verify(confidence_exit(ens, threshold))
    if exact.early_exit is None:
        return
    assert sooner.early_exit.confidence == threshold
    assert (interpret_trees_evaluated(sooner, X) <= interpret_trees_evaluated(exact, X)).all()
    # full evaluation is untouched: only the stopping rule changed
    np.testing.assert_array_equal(interpret(sooner, X), interpret(votes_as_mean(ens), X))


def test_confidence_exit_batches_check_every_b_rounds(digits_forest):
    ens, _ = digits_forest
    out = confidence_exit(ens, 0.5, batch=3)
    assert out.early_exit.checkpoints.tolist() == [3, 6, 9]


def test_confidence_exit_stops_sooner_at_lower_thresholds_on_real_data(digits_forest):
    ens, X = digits_forest
    trees = [interpret_trees_evaluated(confidence_exit(ens, t), X).mean() for t in (1.0, 0.5, 0.2)]
    assert trees[0] < ens.n_trees and trees[0] > trees[1] > trees[2]


def test_reordered_forest_predicts_the_same_on_real_data(digits_forest):
    ens, X = digits_forest
    out = verify(reorder_trees(ens, X))
    assert sorted(id(t) for t in out.trees) == sorted(id(t) for t in ens.trees)
    np.testing.assert_array_equal(interpret(out, X), interpret(ens, X))


def test_two_leaves_per_class_gives_two_rows_per_class(digits_forest):
    ens, _ = digits_forest
    assert leaves_per_class(ens, 2).leaves.shape == (20, 10)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda e: quantize_leaves(e, 6), "leaf bits must be 8 or 4"),
        (lambda e: cluster_leaves(e, 0), "positive integer"),
        (lambda e: confidence_exit(e, 1.5), r"threshold must be in \(0, 1\]"),
        (lambda e: confidence_exit(e, 0.5, batch=0), "batch size"),
    ],
)
def test_bad_knobs_raise_clear_errors(digits_forest, call, message):
    with pytest.raises(EmlcError, match=message):
        call(digits_forest[0])


def test_forest_only_passes_reject_boosted_models(boosted):
    with pytest.raises(EmlcError, match="hard vote needs a forest classifier"):
        hard_vote(boosted)
    with pytest.raises(EmlcError, match="leaves per class needs a classifier"):
        leaves_per_class(boosted.replace(task=Task.REGRESSION, link=boosted.link, classes=None, decision=boosted.decision.NONE, n_outputs=1, base_score=np.zeros(1), tree_output=np.zeros(boosted.n_trees, np.int32)), 2)


def test_lossy_passes_are_registered_but_in_no_level():
    lossy = {n for n, p in PASSES.items() if not p.lossless}
    assert {"hard_vote", "leaves_per_class_2", "quantize_leaves_8", "quantize_leaves_4"} <= lossy
    assert all(PASSES[n].name == n for n in lossy)
    for target in TARGETS:
        for level in LEVELS:
            assert not lossy & set(pipeline(level, TARGETS[target]))
