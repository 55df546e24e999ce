"""A 3,000-deep chain goes through every stage without RecursionError or wrong answers.

Trees may legally be that deep (LightGBM with max_depth=-1 grows chains on sorted
data), so verify, interpret, text round-trip, every lossless pass, and every
emitter must be iterative, and the emitted code must still compute the model.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import pytest

from emlc.ir import Ensemble, Op, Task, Tree, interpret
from emlc.ir.text import parse_ir, print_ir
from emlc.ir.verify import verify
from emlc.passes import PASSES, optimize
from tests.conftest import require_tool

DEPTH = 3_000


@lru_cache(maxsize=None)
def chain(depth: int = DEPTH) -> Ensemble:
    """Split i tests ``x[i % 2] <= i`` and sends rows left to leaf i, right to split i+1."""
    splits = np.arange(depth)
    op = np.concatenate([np.full(depth, Op.LE), np.full(depth + 1, Op.LEAF)])
    feature = np.concatenate([splits % 2, np.full(depth + 1, -1)])
    threshold = np.concatenate([splits.astype(np.float64), np.zeros(depth + 1)])
    left = np.concatenate([depth + splits, np.full(depth + 1, -1)])
    right = np.concatenate([splits + 1, np.full(depth + 1, -1)])
    right[depth - 1] = 2 * depth
    leaf = np.concatenate([np.full(depth, -1), np.arange(depth + 1)])
    default_left = np.concatenate([splits % 3 == 0, np.zeros(depth + 1, bool)])
    tree = Tree.build(op=op, feature=feature, threshold=threshold, left=left, right=right, leaf=leaf,
                      default_left=default_left)
    return verify(Ensemble(
        n_features=2,
        task=Task.REGRESSION,
        trees=(tree, tree),
        tree_output=np.zeros(2, np.int32),
        leaves=(np.arange(depth + 1, dtype=np.float64)[:, None] * 0.25) - 7.0,
        n_outputs=1,
        base_score=np.array([0.5]),
        name="deep",
    ))


def rows(n: int = 64) -> np.ndarray:
    rng = np.random.default_rng(3)
    X = rng.uniform(-5, DEPTH + 5, size=(n, 2)).astype(np.float32)
    X[::7, 0] = np.nan
    X[1::5, 1] = np.arange(len(X[1::5])) * 37.0  # exactly on thresholds
    return X


def test_interpret_reaches_the_bottom():
    ens = chain()
    X = np.array([[DEPTH + 10, DEPTH + 10], [0.0, 0.0]], np.float32)
    np.testing.assert_array_equal(interpret(ens, X), 2 * np.array([DEPTH * 0.25 - 7.0, -7.0]) + 0.5)


def test_text_round_trip():
    ens = chain()
    assert parse_ir(print_ir(ens)).same_as(ens)


@pytest.mark.parametrize("name", sorted(n for n, p in PASSES.items() if p.lossless))
def test_every_lossless_pass(name):
    ens = chain()
    out = verify(PASSES[name](ens))
    np.testing.assert_array_equal(interpret(out, rows()), interpret(ens, rows()))


@lru_cache(maxsize=None)
def optimized() -> Ensemble:
    return optimize(chain(), level="O2").ensemble


def test_o2_keeps_predictions():
    np.testing.assert_array_equal(interpret(optimized(), rows()), interpret(chain(), rows()))


@pytest.mark.parametrize("layout", ["inline", "table"])
def test_c_compiles_and_predicts(layout):
    require_tool("gcc")
    from tests.e2e.harness import run_model

    got = run_model(optimized(), rows(), "host", layout=layout, name="deep")
    np.testing.assert_array_equal(got.predict, interpret(chain(), rows()).astype(np.float32))


def test_micropython_module_refuses_with_the_csv_alternative():
    from emlc.backends.micropython import emit_micropython
    from emlc.errors import EmlcError

    with pytest.raises(EmlcError, match="CSV"):
        emit_micropython(optimized(), name="deep")


def test_micropython_csv_runtime_predicts():
    from emlc.backends.micropython.emlc_csv import emit_emlc_csv
    from tests.fuzz.runtime import emlc_trees

    model = emlc_trees().load(io.StringIO(emit_emlc_csv(optimized())))
    got = np.array([model.predict([float(v) for v in r]) for r in rows()])
    np.testing.assert_array_equal(got, interpret(chain(), rows()))


def test_llvm_ir_parses():
    import llvmlite.binding as llvm

    from emlc.backends.llvm import emit_llvm

    llvm.parse_assembly(emit_llvm(optimized(), name="deep")).verify()
