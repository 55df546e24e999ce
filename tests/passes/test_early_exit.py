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
