"""Early exit in LLVM: predict (JIT and object code) equals ``interpret_early_exit``."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emlc
from emlc.backends.llvm import TARGETS, emit_llvm, emit_obj, jit
from emlc.backends.llvm.codegen import choose_types
from emlc.backends.llvm.exit_checks import plan
from emlc.backends.llvm.predictor import Predictor
from emlc.errors import EmlcError
from emlc.ir import Aggregation, Decision, EarlyExit, Ensemble, Link, Op, Task, Tree
from emlc.ir.interpret import (
    interpret,
    interpret_early_exit,
    interpret_proba,
    interpret_raw,
    interpret_trees_evaluated,
)
from emlc.passes.lossy.confidence_exit import confidence_exit
from tests.backends.llvm.test_emit import KERNELS, _host_c_api, _same
from tests.strategies import class_indices, ensembles, inputs_for, with_early_exit


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=20)
@given(st.data(), st.sampled_from([None, 1.0, 0.6, 0.3]), st.integers(1, 2))
def test_jit_predict_stops_where_the_interpreter_does(kernel, data, threshold, batch):
    """Over several row blocks; raw margins and probabilities still sum every tree."""
    ens = with_early_exit(data.draw(ensembles(tasks=(Task.CLASSIFICATION,))), threshold, batch)
    X = data.draw(inputs_for(ens, max_rows=300))
    p = Predictor(ens, cache_dir=False, **KERNELS[kernel])
    assert _same(p.predict(X), interpret_early_exit(ens, X))
    assert _same(p.predict_raw(X), interpret_raw(ens, X))
    assert _same(p.predict_proba(X), interpret_proba(ens, X))


@settings(max_examples=8)
@given(data=st.data(), threshold=st.sampled_from([None, 0.6, 0.3]))
def test_host_object_predict_stops_where_the_interpreter_does(data, threshold, tmp_path_factory):
    """The object files' C API (rows as given, branchy trees), one call per row."""
    ens = with_early_exit(data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_inputs=False)), threshold, 1)
    X = data.draw(inputs_for(ens)).astype(np.float32)
    lib = _host_c_api(ens, tmp_path_factory.mktemp("obj"))
    lib.m_predict.restype = ctypes.c_int32
    got = [lib.m_predict(row.ctypes.data_as(ctypes.c_void_p), ens.n_features) for row in X]
    np.testing.assert_array_equal(got, class_indices(ens, interpret_early_exit(ens, X)))
    assert lib.m_predict(X[0].ctypes.data_as(ctypes.c_void_p), ens.n_features + 1) == -1


def _tied(n_outputs: int, leaf_dtype: str, accum: str, margin: int) -> Ensemble:
    """Leaves in {-1, 0, 1} and bounds ``-margin``/``+margin``: sums tie the bounds often,
    and one output stops on both sides (so ``>`` against ``>=`` and the class matter)."""
    rng = np.random.default_rng(n_outputs)
    n_trees = 6
    trees = tuple(Tree.build(op=[Op.LE, Op.LE, Op.LE, Op.LEAF, Op.LEAF, Op.LEAF, Op.LEAF],
                             feature=[0, 1, 2, -1, -1, -1, -1], threshold=rng.normal(0, 0.5, 7).round(1),
                             left=[1, 3, 5, -1, -1, -1, -1], right=[2, 4, 6, -1, -1, -1, -1],
                             leaf=[-1, -1, -1, *range(4 * i, 4 * i + 4)]) for i in range(n_trees))
    leaves = rng.integers(-1, 2, size=(4 * n_trees, n_outputs)).astype(leaf_dtype)
    integer = leaf_dtype.startswith("int")
    bound_dtype = "int64" if integer else accum
    cps = np.arange(1, n_trees, dtype=np.int32)
    bounds = np.full((cps.size, n_outputs), margin, dtype=bound_dtype)
    return Ensemble(n_features=3, task=Task.CLASSIFICATION, trees=trees, tree_output=np.zeros(n_trees, np.int32),
                    leaves=leaves, n_outputs=n_outputs, base_score=np.zeros(n_outputs),
                    link=Link.SIGMOID if n_outputs == 1 else Link.SOFTMAX, decision=Decision.RAW_ARGMAX,
                    classes=np.arange(max(n_outputs, 2)) * 2, accum_dtype=accum,
                    leaf_scale=np.full(n_outputs, 0.5) if integer else None,
                    early_exit=EarlyExit(cps, -bounds, bounds, confidence=0.5))


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("leaf_dtype,accum", [("int8", "float64"), ("float32", "float32"), ("float64", "float64")])
@pytest.mark.parametrize("margin", [0, 1])
def test_ties_and_both_sides_of_the_check(n_outputs, leaf_dtype, accum, margin, tmp_path):
    ens = _tied(n_outputs, leaf_dtype, accum, margin)
    X = np.random.default_rng(0).normal(0, 0.7, size=(400, 3)).astype(np.float32)
    X[::9, 1] = np.nan
    want = interpret_early_exit(ens, X)
    stopped = want[interpret_trees_evaluated(ens, X) < ens.n_trees]
    assert len(set(stopped.tolist())) >= 2  # rows stop early with different classes
    for kernel in KERNELS.values():
        assert _same(Predictor(ens, cache_dir=False, **kernel).predict(X), want)
    lib = _host_c_api(ens, tmp_path)
    got = [lib.m_predict(row.ctypes.data_as(ctypes.c_void_p), 3) for row in X]
    np.testing.assert_array_equal(got, class_indices(ens, want))


def _forest_exit(threshold: float) -> tuple[Ensemble, np.ndarray]:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(n_samples=300, n_features=5, n_informative=4, n_redundant=0, n_classes=3,
                               random_state=0)
    forest = RandomForestClassifier(n_estimators=12, max_depth=4, random_state=0).fit(X, y)
    return confidence_exit(emlc.load(forest), threshold), X


def test_lossy_exit_changes_classes_and_the_jit_follows():
    """At a low confidence some rows stop with another class than the full forest: so does predict."""
    ens, X = _forest_exit(0.2)
    early, full = interpret_early_exit(ens, X), interpret(ens, X)
    assert (early != full).any() and interpret_trees_evaluated(ens, X).mean() < ens.n_trees
    p = jit(ens, n_jobs=2, cache_dir=False)
    assert _same(p.predict(X), early)
    assert _same(p.predict_proba(X), interpret_proba(ens, X))
    assert _same(jit(ens.replace(early_exit=None), cache_dir=False).predict(X), full)


def test_exit_block_returns_at_every_check_point():
    ens, _ = _forest_exit(0.5)
    text = emit_llvm(ens, "cortex-m0", "m")
    n_checks = ens.early_exit.checkpoints.size
    assert text.count("call i32 @m_check(") == n_checks
    assert text.count("label %decided") == n_checks
    assert "call void @m_exit_block(" in text.split("define i32 @m_predict(")[1].split("\n}")[0]
    assert "@m_exit_batch" not in text  # the batch entry with exits is the host JIT's


@pytest.mark.parametrize("target", ["host", *TARGETS])
def test_objects_with_an_early_exit_build_for_every_target(target):
    ens, _ = _forest_exit(0.5)
    assert emit_obj(ens, target, "m")[:4] == b"\x7fELF"


def test_without_a_64_bit_double_float64_bounds_are_an_approximate_float_check():
    ens, _ = _forest_exit(0.5)
    avr = plan(ens, choose_types(ens, has_double=False), has_double=False)
    assert avr is not None and not avr.exact and avr.check_type == "float"
    assert avr.lower.dtype == np.float32
    assert plan(ens, choose_types(ens)).exact
    ee = ens.early_exit
    f32 = ens.replace(accum_dtype="float32", early_exit=EarlyExit(
        ee.checkpoints, ee.lower.astype(np.float32), ee.upper.astype(np.float32), ee.confidence))
    assert plan(f32, choose_types(f32, has_double=False), has_double=False).exact


def test_vote_ensembles_with_an_early_exit_are_refused_with_the_fix():
    ens, _ = _forest_exit(0.5)
    with pytest.raises(EmlcError, match="VOTE.*confidence_exit"):
        emit_llvm(ens.replace(aggregation=Aggregation.VOTE), "host", "m")
