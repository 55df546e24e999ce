"""A JIT predictor leaves its process: pickle, save/load, damaged files, other CPUs, threads."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor

import lightgbm as lgb
import numpy as np
import pytest

import emlc
from emlc.backends.llvm import emit as backend
from emlc.backends.llvm import jit
from emlc.backends.llvm.codegen import INLINE_MAX_NODES
from emlc.backends.llvm.predictor_file import MAGIC, dumps, loads
from emlc.errors import EmlcError, RecompileWarning
from emlc.passes import optimize


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 0.8)
    return lgb.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1, n_jobs=1).fit(X, y)


@pytest.fixture(scope="module")
def rows():
    X = np.random.default_rng(4).normal(size=(3000, 6))
    X[::11, 2] = np.nan
    return X


def _same_predictions(a, b, X) -> None:
    assert np.array_equal(a.predict(X), b.predict(X))
    assert np.array_equal(a.predict_raw(X), b.predict_raw(X))
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


def _edit_header(data: bytes, **build) -> bytes:
    """The same bytes with header build fields replaced (as another machine would write)."""
    end = data.index(b"\n", len(MAGIC))
    header = json.loads(data[len(MAGIC):end])
    header["build"].update(build)
    return MAGIC + json.dumps(header).encode() + data[end:]


@pytest.mark.parametrize("limit", [INLINE_MAX_NODES, 0], ids=["inline", "table"])
def test_pickle_round_trip_links_without_codegen(model, rows, monkeypatch, limit):
    p = jit(model, n_jobs=2, cache_dir=False, inline_max_nodes=limit)
    data = pickle.dumps(p)

    def no_codegen(*_a, **_k):
        raise AssertionError("unpickling ran LLVM's code generator")

    monkeypatch.setattr(backend, "compile_module", no_codegen)
    q = pickle.loads(data)
    _same_predictions(p, q, rows)
    assert np.array_equal(q.predict(rows), model.predict(rows))
    assert q.n_jobs == 2 and q.build == p.build and q.build.inline_max_nodes == limit


def test_early_exit_model_round_trips(model, rows):
    ens = optimize(emlc.load(model), level="O2").ensemble
    assert ens.early_exit is not None
    p = jit(ens, cache_dir=False)
    _same_predictions(p, pickle.loads(pickle.dumps(p)), rows)


def test_save_and_load_predictor(model, rows, tmp_path):
    p = jit(model, cache_dir=False)
    p.save(tmp_path / "m.emlcjit")
    _same_predictions(p, emlc.load_predictor(tmp_path / "m.emlcjit"), rows)
    with pytest.raises(EmlcError, match="cannot read"):
        emlc.load_predictor(tmp_path / "missing")
    with pytest.raises(EmlcError, match="cannot write"):
        p.save(tmp_path / "no" / "such" / "dir")


def test_damaged_bytes_are_one_line_errors(model):
    data = dumps(jit(model, cache_dir=False))
    flipped = bytearray(data)
    flipped[-100] ^= 0x40
    cases = {
        "not an emlc predictor": b"\x80\x04garbage",
        "not JSON": MAGIC + b"{oops\n" + data[len(MAGIC):],
        "header line is cut off": data[:len(MAGIC) + 5],
        "truncated: the object part": data[:-10],
        "object part does not match": bytes(flipped),
        "bytes follow": data + b"\0",
        "build fields": _edit_header(data, opt="fast"),
    }
    for message, damaged in cases.items():
        with pytest.raises(EmlcError, match=message) as e:
            loads(damaged)
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("field, value, reason", [
    ("cpu", "some-other-cpu", "cpu '.*' here, 'some-other-cpu' in the file"),
    ("features", "+sse2,-avx,+madeup", r"features .* here, '\+madeup,-avx' in the file"),
    ("emlc", "0.0.1", "emlc '.*' here, '0.0.1' in the file"),
    ("llvm", "1.0.0", "llvm '.*' here, '1.0.0' in the file"),
])
def test_other_build_recompiles_with_a_warning(model, rows, field, value, reason):
    p = jit(model, cache_dir=False)
    other = _edit_header(dumps(p), **{field: value})
    with pytest.warns(RecompileWarning, match=f"recompiling the saved predictor: {reason}"):
        q = loads(other)
    _same_predictions(p, q, rows)
    assert q.build == p.build  # recompiled for this machine


def _predict_in_worker(args):
    predictor, X = args
    return predictor.predict_raw(X)


def test_multiprocessing_spawn_pool(model, rows):
    p = jit(model, cache_dir=False)
    chunks = np.array_split(rows, 4)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        got = pool.map(_predict_in_worker, [(p, c) for c in chunks])
    assert np.array_equal(np.concatenate(got), p.predict_raw(rows))


def test_many_python_threads_share_one_predictor(model):
    p = jit(model, cache_dir=False)
    inputs = [np.random.default_rng(s).normal(size=(500 + 37 * s, 6)) for s in range(16)]
    serial = [p.predict_proba(X) for X in inputs]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(p.predict_proba, inputs))
    assert all(np.array_equal(a, b) for a, b in zip(serial, parallel))


def test_n_jobs_splits_rows_between_threads(model, rows):
    """As documented: n_jobs threads run a share of the row blocks each, at once, with
    the results of one thread."""
    one = jit(model, cache_dir=False)
    four = jit(model, n_jobs=4, cache_dir=False)
    batch = four._batch
    together = threading.Barrier(4, timeout=30)  # broken unless 4 calls run at once
    counts: list[int] = []

    def recording(x, n, out):
        counts.append(n)
        together.wait()
        return batch(x, n, out)

    four._batch = recording
    assert np.array_equal(four.predict_raw(rows), one.predict_raw(rows))
    assert sorted(counts) == [696, 768, 768, 768]  # 3000 rows, shares of whole 128-row blocks
    four._batch = batch
    assert np.array_equal(four.predict_raw(rows[:100]), one.predict_raw(rows[:100]))
    with pytest.raises(EmlcError, match="n_jobs"):
        jit(model, n_jobs=True, cache_dir=False)
