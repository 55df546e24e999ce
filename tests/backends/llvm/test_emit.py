"""LLVM backend: JIT and object code agree exactly with the reference interpreter."""

from __future__ import annotations

import ctypes
import subprocess
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.llvm import TARGETS, emit_llvm, emit_obj, jit
from emlc.backends.llvm.emit import host_target, layout_for, target_machine
from emlc.backends.llvm.codegen import BLOCK_ROWS, LANES, VECTOR_MAX_NODES, emit_module, round_for
from emlc.backends.llvm.predictor import Predictor
from emlc.errors import EmlcError
from emlc.ir import Aggregation, Decision, Ensemble, Link, Task, Tree
from emlc.ir.interpret import interpret, interpret_proba, interpret_raw, interpret_value
from tests.conftest import require_tool
from tests.strategies import ensembles, inputs_for


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equal, NaN equal to NaN."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


#: the three tree kernels, as Predictor options: branches, vector code, table walk
KERNELS = {"branches": {"vector_max_nodes": 0}, "vector": {"vector_max_nodes": VECTOR_MAX_NODES},
           "table": {"inline_max_nodes": 0}}


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=20)
@given(data=st.data())
def test_jit_matches_interpreter_on_random_ir(kernel, data):
    """Every tree kernel, over several row blocks and a partial lane group; random IR has
    NaN inputs, categorical splits, ranks, DAGs, both ops and every input type."""
    ens = data.draw(ensembles())
    X = data.draw(inputs_for(ens, max_rows=300))
    p = Predictor(ens, cache_dir=False, **KERNELS[kernel])
    assert _same(p.predict_raw(X), interpret_raw(ens, X))
    assert _same(p.predict(X), interpret(ens, X))
    if ens.task is Task.CLASSIFICATION:
        assert _same(p.predict_proba(X), interpret_proba(ens, X))


def _stump(**kw) -> Ensemble:
    tree = Tree.build(op=[1, 0, 0], feature=[0, -1, -1], threshold=[0.1, 0, 0], left=[1, -1, -1],
                      right=[2, -1, -1], leaf=[-1, 0, 1], default_left=[True, False, False])
    base = dict(n_features=2, task=Task.REGRESSION, trees=(tree,) * 3, tree_output=np.zeros(3, np.int32),
                leaves=np.array([[0.1], [0.7]]), n_outputs=1, base_score=np.array([0.3]))
    base.update(kw)
    return Ensemble(**base)


def test_threshold_rounding_keeps_every_float32_test():
    t = np.array([0.1, -0.1, 1e300, -1e300, np.inf, -np.inf, 3.0, 2.0**-149 / 2])
    xs = np.array([np.nextafter(np.float32(v), np.float32(d)) for v in (0.1, -0.1, 3.0, 0.0) for d in (-1, 1)]
                  + [0.1, -0.1, 3.0, 0.0, 3.4e38, -3.4e38, np.inf, -np.inf], dtype=np.float32)
    x = xs.astype(np.float64)[:, None]
    down, up = round_for(t, "float", up=False), round_for(t, "float", up=True)
    assert np.array_equal(x <= t, x <= down) and np.array_equal(x < t, x < up)
    assert np.array_equal(down.astype(np.float32).astype(np.float64), down)


def test_small_trees_become_vector_code_big_and_categorical_ones_keep_branches():
    big = Tree.build(op=[1] * 127 + [0] * 128, feature=[0] * 255, threshold=np.linspace(-1, 1, 255),
                     left=[2 * k + 1 for k in range(127)] + [-1] * 128,
                     right=[2 * k + 2 for k in range(127)] + [-1] * 128,
                     leaf=[-1] * 127 + [0, 1] * 64)
    cat = Tree.build(op=[3, 0, 0], feature=[1, -1, -1], threshold=[0, 0, 0], left=[1, -1, -1],
                     right=[2, -1, -1], leaf=[-1, 0, 1], cat=[0, -1, -1])
    ens = _stump(trees=(_stump().trees[0], big, cat), cat_sets=np.array([[5]], np.uint32))
    tm = target_machine(host_target(), jit=True)
    layout = layout_for(host_target(), tm)
    blocked = replace(layout, feature_stride=BLOCK_ROWS, vector_max_nodes=254)
    text = emit_module(ens, blocked, "m")
    bodies = text.split("define internal void @m_tree")[1:]
    assert [f"<{LANES} x float>" in b.split("\n}")[0] for b in bodies] == [True, False, False]
    grown = emit_module(ens, replace(blocked, vector_max_nodes=255), "m")
    assert [f"<{LANES} x float>" in b.split("\n}")[0] for b in grown.split("define internal void @m_tree")[1:]] == [True, True, False]
    assert f"<{LANES} x" not in emit_module(ens, layout, "m")  # microcontroller layouts keep branches
    X = np.random.default_rng(2).normal(0, 2, size=(1000, 2)).astype(np.float32)
    X[::5, 0] = np.nan
    X[::3, 1] = np.arange(0, 1000, 3) % 5
    assert _same(jit(ens, cache_dir=False).predict_raw(X), interpret_raw(ens, X))


def test_models_above_the_node_limit_are_walked_from_tables_on_blocked_layouts_only():
    ens = _stump()  # 9 nodes
    layout = layout_for(host_target(), target_machine(host_target(), jit=True))
    blocked = replace(layout, feature_stride=BLOCK_ROWS, vector_max_nodes=VECTOR_MAX_NODES)
    walked = emit_module(ens, replace(blocked, inline_max_nodes=8), "m")
    assert "@m_walk(" in walked and "@m_tree" not in walked
    inline = emit_module(ens, replace(blocked, inline_max_nodes=9), "m")
    assert "@m_walk(" not in inline and "@m_tree2(" in inline
    assert emit_module(ens, replace(layout, inline_max_nodes=0), "m") == emit_module(ens, layout, "m")


def test_float32_sums_and_mean_follow_tree_order():
    ens = _stump(accum_dtype="float32", aggregation=Aggregation.MEAN)
    X = np.array([[0.1, 0], [np.float32(0.1) + 1e-7, 0], [np.nan, 1]])
    p = jit(ens, cache_dir=False)
    assert p.predict_raw(X).dtype == np.float32
    assert _same(p.predict_raw(X), interpret_raw(ens, X))


def test_cache_hit_reuses_object_code(tmp_path):
    ens = _stump()
    X = np.array([[0.0, 1.0], [5.0, 1.0]])
    first = jit(ens, cache_dir=tmp_path)
    second = jit(ens, cache_dir=tmp_path)
    assert not first.cache_hit and second.cache_hit
    assert len(list(tmp_path.glob("*.o"))) == 1
    assert _same(second.predict(X), interpret(ens, X))
    other = jit(_stump(base_score=np.array([0.5])), cache_dir=tmp_path)
    assert not other.cache_hit and len(list(tmp_path.glob("*.o"))) == 2


def test_threads_split_rows_without_changing_results():
    ens = _stump(task=Task.CLASSIFICATION, classes=np.array(["no", "yes"]), link=Link.SIGMOID,
                 decision=Decision.ARGMAX)
    X = np.random.default_rng(0).normal(0, 1, size=(5000, 2))
    X[::7, 0] = np.nan
    for kernel in ("vector", "table"):  # inline code in 128-row blocks; the walk's are bigger
        p = Predictor(ens, n_jobs=3, cache_dir=False, **KERNELS[kernel])
        assert _same(p.predict(X), interpret(ens, X))
        assert _same(p.predict_proba(X), interpret_proba(ens, X))


def test_user_mistakes_are_clear_errors():
    p = jit(_stump(), cache_dir=False)
    with pytest.raises(EmlcError, match="2 features"):
        p.predict(np.zeros((3, 5)))
    with pytest.raises(EmlcError, match="classifier"):
        p.predict_proba(np.zeros((3, 2)))
    with pytest.raises(EmlcError, match="n_jobs"):
        jit(_stump(), n_jobs=0, cache_dir=False)
    with pytest.raises(EmlcError, match="unknown LLVM target"):
        emit_llvm(_stump(), target="z80")
    with pytest.raises(EmlcError, match="C identifier"):
        emit_llvm(_stump(), name="my model")


@pytest.mark.parametrize("target", ["host", *TARGETS])
def test_objects_build_for_every_target(target):
    obj = emit_obj(_stump(), target, "m")
    assert obj[:4] == b"\x7fELF"
    assert "define float @m_predict(" in emit_llvm(_stump(), target, "m")


def _host_c_api(ens: Ensemble, tmp_path, name: str = "m"):
    """Link the host object into a shared library and open its C API."""
    require_tool("gcc")
    (tmp_path / "m.o").write_bytes(emit_obj(ens, "host", name))
    subprocess.run(["gcc", "-shared", "-o", str(tmp_path / "m.so"), str(tmp_path / "m.o"), "-lm"], check=True)
    return ctypes.CDLL(str(tmp_path / "m.so"))


@settings(max_examples=10)
@given(data=st.data())
def test_host_object_c_api_matches_interpreter(data, tmp_path_factory):
    ens = data.draw(ensembles(integer_inputs=False))
    X = data.draw(inputs_for(ens)).astype(np.float32)
    lib = _host_c_api(ens, tmp_path_factory.mktemp("obj"))
    classifier = ens.task is Task.CLASSIFICATION
    values = getattr(lib, "m_predict_proba" if classifier else "m_predict_values")
    lib.m_predict.restype = ctypes.c_int32 if ens.task in (Task.CLASSIFICATION, Task.ANOMALY) else ctypes.c_float
    n_vals = 2 if classifier and ens.n_outputs == 1 else ens.n_outputs
    got_pred, got_vals = [], []
    out = np.zeros(n_vals, np.float32)
    for row in X:
        got_pred.append(lib.m_predict(row.ctypes.data_as(ctypes.c_void_p), ens.n_features))
        assert values(row.ctypes.data_as(ctypes.c_void_p), ens.n_features, out.ctypes.data_as(ctypes.c_void_p), n_vals) == n_vals
        got_vals.append(out.copy())
    want = interpret_proba(ens, X) if classifier else interpret_value(ens, X)
    np.testing.assert_allclose(np.array(got_vals), want.astype(np.float32), rtol=1e-5, atol=1e-6)
    if ens.task is Task.REGRESSION or ens.task is Task.RANKING:
        np.testing.assert_allclose(np.array(got_pred, np.float32), want[:, 0].astype(np.float32), rtol=1e-5, atol=1e-6)
    else:
        ref = interpret(ens, X)
        idx = ref if ens.task is Task.ANOMALY or ens.classes is None else np.searchsorted(ens.classes, ref)
        assert np.array_equal(np.array(got_pred), idx)
    row = X[0]
    assert values(row.ctypes.data_as(ctypes.c_void_p), ens.n_features + 1, out.ctypes.data_as(ctypes.c_void_p), n_vals) == -1
    assert values(row.ctypes.data_as(ctypes.c_void_p), ens.n_features, out.ctypes.data_as(ctypes.c_void_p), n_vals + 1) == -2
