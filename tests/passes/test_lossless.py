"""Property tests: every lossless pass, level pipeline and pass ordering keeps every result.

Random ensembles of every shape (tests/strategies.py) and rows with NaN, +-inf and
values exactly on (and next to) thresholds; the verifier must accept each output.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emlc.ir.interpret import interpret, interpret_early_exit
from emlc.ir.verify import verify
from emlc.passes import LEVELS, PASSES, optimize
from tests.passes.equivalence import assert_same_results
from tests.strategies import ensembles
from tests.strategies import inputs_for

LOSSLESS = sorted(name for name, p in PASSES.items() if p.lossless)


@pytest.mark.parametrize("name", LOSSLESS)
@given(data=st.data())
def test_pass_keeps_every_result(name, data):
    ens = data.draw(ensembles())
    out = verify(PASSES[name](ens))
    X = data.draw(inputs_for(ens))
    assert_same_results(ens, out, X)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("target", ["host", "avr", "cortex-m0"])
@given(data=st.data())
def test_level_pipeline_keeps_every_result(level, target, data):
    ens = data.draw(ensembles())
    res = optimize(ens, level=level, target=target)
    X = data.draw(inputs_for(ens))
    assert_same_results(ens, res.ensemble, X)
    assert np.array_equal(interpret_early_exit(res.ensemble, X), interpret(ens, X))


@given(data=st.data())
def test_any_pass_order_keeps_every_result(data):
    ens = data.draw(ensembles())
    order = data.draw(st.permutations(LOSSLESS))
    out = optimize(ens, passes=order).ensemble
    X = data.draw(inputs_for(ens))
    assert_same_results(ens, out, X)


@given(data=st.data())
def test_passes_are_idempotent_in_size(data):
    """Running a level twice never grows the model (the second run finds nothing to undo)."""
    ens = data.draw(ensembles())
    once = optimize(ens, level="O2").ensemble
    twice = optimize(once, level="O2").ensemble
    assert twice.n_nodes <= once.n_nodes and twice.leaves.shape[0] <= once.leaves.shape[0]


@pytest.mark.parametrize("name", ["fold_redundant_splits", "quantize_thresholds", "merge_subtrees", "rank_features"])
@given(data=st.data())
def test_pass_on_one_feature_models(name, data):
    """One feature makes every path test it again and again: implied splits everywhere."""
    ens = data.draw(ensembles(max_features=1, max_depth=7, categorical=False))
    out = verify(PASSES[name](ens))
    assert_same_results(ens, out, data.draw(inputs_for(ens)))
