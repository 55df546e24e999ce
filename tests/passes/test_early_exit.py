"""Exact early exit: stopping at a check point never changes the predicted class.

Leaf values are drawn to make float rounding bite (huge and tiny magnitudes, exact
cancellations, values around the 0.5 cut) on models with many small trees.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from emlc.ir import Aggregation, Decision, Link, Task
from emlc.ir.interpret import interpret, interpret_early_exit, interpret_trees_evaluated
from emlc.ir.verify import verify
from emlc.passes.early_exit import early_exit, supports
from tests.strategies import ensembles, inputs_for

MAGNITUDES = np.array([0.0, 2.0**-30, 1e-7, 0.25, 0.5, 1.0, 3.0, 1e4, 1e8, 2.0**40])


@st.composite
def close_call_classifiers(draw):
    ens = draw(ensembles(tasks=(Task.CLASSIFICATION,), max_trees=24, max_depth=2, max_features=2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = ens.leaves.shape
    if ens.leaves.dtype.kind == "f":
        mags = MAGNITUDES[rng.integers(0, draw(st.integers(2, len(MAGNITUDES))), size=shape)]
        signs = rng.choice([-1.0, 1.0], size=shape)
        ens = ens.replace(leaves=(mags * signs).astype(ens.leaves.dtype))
    if ens.n_outputs == 1 and draw(st.booleans()):
        ens = ens.replace(link=Link.IDENTITY, link_params=(), base_score=np.full(1, draw(st.sampled_from([0.0, 0.5, -0.5]))))
    return verify(ens)


@given(data=st.data())
def test_early_exit_never_changes_the_class(data):
    ens = data.draw(close_call_classifiers())
    out = verify(early_exit(ens))
    X = data.draw(inputs_for(ens, max_rows=60))
    assert np.array_equal(interpret(out, X), interpret(ens, X))
    assert np.array_equal(interpret_early_exit(out, X), interpret(ens, X))
    evaluated = interpret_trees_evaluated(out, X)
    assert ((evaluated >= 1) & (evaluated <= ens.n_trees)).all()
    if out.early_exit is not None:
        assert set(np.unique(evaluated)) <= set(out.early_exit.checkpoints.tolist()) | {ens.n_trees}


def test_bounds_are_tight_enough_to_stop():
    """A stump forest whose first tree already decides: every row stops at the first check."""
    from tests.passes.test_golden import stump_forest

    ens = stump_forest()
    out = early_exit(ens)
    X = np.array([[-5.0], [5.0], [np.nan]])
    assert out.early_exit is not None
    assert list(interpret_trees_evaluated(out, X)) == [1, 1, 1]
    assert np.array_equal(interpret_early_exit(out, X), interpret(ens, X))


def test_unsupported_models_get_no_check_points():
    from tests.passes.test_golden import stump_forest

    ens = stump_forest()
    vote = ens.replace(aggregation=Aggregation.VOTE)
    regression = ens.replace(task=Task.REGRESSION, decision=Decision.NONE, classes=None, n_outputs=2)
    for model in (vote, regression):
        assert not supports(model) and early_exit(model).early_exit is None


def stumps(pairs, *, classes=2, tree_output=None, leaves_dtype="float64", **kwargs):
    """Trees ``x[0] <= 0 ? row a : row b`` for each (a, b) pair of leaf rows."""
    from emlc.ir import Ensemble, Tree

    rows = [np.atleast_1d(v) for pair in pairs for v in pair]
    trees = tuple(
        Tree.build(op=[1, 0, 0], feature=[0, -1, -1], threshold=[0.0, 0, 0], left=[1, -1, -1],
                   right=[2, -1, -1], leaf=[-1, 2 * i, 2 * i + 1], default_left=[True, False, False])
        for i in range(len(pairs))
    )
    width = rows[0].size
    n_outputs = kwargs.pop("n_outputs", width)
    defaults = dict(
        n_features=1, task=Task.CLASSIFICATION, trees=trees,
        tree_output=np.asarray(tree_output if tree_output is not None else [0] * len(pairs), np.int32),
        leaves=np.array(rows).astype(leaves_dtype), n_outputs=n_outputs,
        base_score=np.zeros(n_outputs), classes=np.arange(classes), decision=Decision.ARGMAX,
    )

    return verify(Ensemble(**{**defaults, **kwargs}))


def assert_exact(ens, X=np.array([[-1.0], [1.0]])):
    out = verify(early_exit(ens))
    assert out.early_exit is not None
    assert np.array_equal(interpret_early_exit(out, X), interpret(ens, X))
    return interpret_trees_evaluated(out, X)


def test_float32_accumulation_error_is_covered():
    """-0.75 + 2**25 - 2**25 is 0 in float32 (class 1 under raw >= 0), not -0.75."""
    big = 2.0**25
    ens = stumps([(-0.75, -0.75), (big, big), (-big, -big)], n_outputs=1, accum_dtype="float32",
                 link=Link.SIGMOID, link_params=(1.0,), decision=Decision.RAW_ARGMAX)
    assert list(interpret(ens, np.array([[-1.0]]))) == [1]
    assert_exact(ens)


def test_probability_cut_is_one_half():
    """Identity probabilities: 0.3 + [0, 0.1] is below 0.5, so class 0 though positive."""
    ens = stumps([(0.3, 0.3), (0.0, 0.1)], n_outputs=1, link=Link.IDENTITY)
    assert list(assert_exact(ens)) == [1, 1]
    assert list(interpret(ens, np.array([[-1.0], [1.0]]))) == [0, 0]


def test_softmax_ties_after_rounding_are_covered():
    """Margins 0 and 1e-8 give equal float32 softmax outputs: argmax picks class 0."""
    ens = stumps([(0.0, 0.0), (1e-8, 1e-8), (0.0, 0.0), (0.0, 0.0)], n_outputs=2, tree_output=[0, 1, 0, 1],
                 accum_dtype="float32", link=Link.SOFTMAX)
    assert list(interpret(ens, np.array([[-1.0]]))) == [0]
    assert_exact(ens)


def test_rounding_after_scaling_and_base_is_covered():
    """Integer sums [0, 8] scaled by 1/8 plus 2**24 round to a float32 tie: class 0."""
    ens = stumps([([0, 8], [0, 8]), ([0, 0], [0, 0])], leaves_dtype="int8", leaf_scale=np.full(2, 0.125),
                 accum_dtype="float32", base_score=np.full(2, 2.0**24))
    assert list(interpret(ens, np.array([[-1.0]]))) == [0]
    assert_exact(ens)
