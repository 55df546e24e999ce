"""MicroPython backends on the host: lowering exactness, emlearn CSV refusals, code hygiene, mpy-cross."""

from __future__ import annotations

import ast
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emlc
from emlc.backends.micropython.emit import emit_micropython, fixed_plan
from emlc.backends.micropython.emlc_csv import emit_emlc_csv
from emlc.backends.micropython.emlearn_csv import emit_emlearn_csv
from emlc.backends.micropython.lower import lower
from emlc.errors import EmlcError
from emlc.ir import Aggregation, Decision, Ensemble, Link, Op, Task, Tree, interpret
from emlc.ir.interpret import leaf_indices
from emlc.paths import runtime_dir
from tests.conftest import require_tool
from tests.strategies import ensembles, inputs_for

RUNTIME_DIR = runtime_dir() / "micropython"


def _flat_leaves(ens: Ensemble, X: np.ndarray) -> np.ndarray:
    """Leaf rows reached by walking the lowered forest the way the device does."""
    flat = lower(ens)
    Xc = X.astype(ens.input_type).astype(np.float64) if flat.kind == "i" else X.astype(np.float64)
    out = np.empty((len(X), ens.n_trees), dtype=np.int64)
    for r, x in enumerate(Xc):
        for t, i in enumerate(flat.roots.tolist()):
            while i >= 0:
                v, th = x[flat.feature[i]], flat.threshold[i]
                go_right = (v > th) if flat.nan_left[i] else not (v <= th)
                if flat.nan_left[i] and np.isnan(th):
                    go_right = not np.isnan(v)
                i = int(flat.right[i] if go_right else flat.left[i])
            out[r, t] = ~i
    return out


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_lowering_reaches_the_same_leaves(data):
    """Folded ranks, casts and <-to-<= rewriting change no routing, NaN included."""
    ens = data.draw(ensembles(categorical=False))
    X = data.draw(inputs_for(ens))
    assert np.array_equal(_flat_leaves(ens, X), leaf_indices(ens, X))
    if ens.input_type == "float32":
        # doubles between float32 values, and exactly halfway, round like numpy's cast
        up = np.nextafter(X.astype(np.float32), np.float32(np.inf)).astype(np.float64)
        for Xd in (X + (up - X) / 2, np.nextafter(X + (up - X) / 2, -np.inf), X * (1 + 1e-9)):
            assert np.array_equal(_flat_leaves(ens, Xd), leaf_indices(ens, Xd))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_children_point_forward(data):
    flat = lower(data.draw(ensembles(categorical=False)))
    idx = np.arange(flat.n_nodes)
    for child in (flat.left, flat.right):
        assert np.all((child < 0) | (child > idx))


def _stump(**changes) -> Ensemble:
    tree = Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[2.5, 0, 0],
                      left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1])
    base = dict(
        n_features=1, task=Task.CLASSIFICATION, trees=(tree,), tree_output=np.zeros(1, np.int32),
        leaves=np.eye(2), n_outputs=2, aggregation=Aggregation.VOTE, decision=Decision.ARGMAX,
        classes=np.array([0, 1]), input_type="int16", base_score=np.zeros(2),
    )
    base.update(changes)
    return Ensemble(**base)


def test_emlearn_csv_format():
    """x <= 2.5 on integers is x < 3; children are relative offsets or -leaf-1; an end marker closes."""
    assert emit_emlearn_csv(_stump()).splitlines() == ["f,1", "c,2", "lf,0", "l,0", "l,1", "r,0", "n,0,3,-1,-2", "e,7"]


@pytest.mark.parametrize(
    "changes, problem",
    [
        (dict(input_type="float32"), "int16"),
        (dict(aggregation=Aggregation.MEAN, leaves=np.array([[0.7, 0.3], [0.2, 0.8]])), "averages class probabilities"),
        (dict(link=Link.SOFTMAX), "link softmax"),
        (dict(base_score=np.array([0.5, 0.0])), "base score"),
        (dict(task=Task.REGRESSION, aggregation=Aggregation.SUM, decision=Decision.NONE, classes=None,
              n_outputs=1, leaves=np.array([[1.0], [2.0]]), base_score=np.zeros(1)), "regression"),
        (dict(n_features=200), "int8"),
    ],
)
def test_emlearn_csv_refuses_what_it_cannot_express(changes, problem):
    with pytest.raises(EmlcError, match=problem) as err:
        emit_emlearn_csv(_stump(**changes))
    assert "--emit micropython" in str(err.value)


def test_emlearn_csv_refuses_thresholds_outside_int16():
    tree = Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[40000.0, 0, 0],
                      left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1])
    with pytest.raises(EmlcError, match="outside int16"):
        emit_emlearn_csv(_stump(trees=(tree,), input_type="int16"))


def test_model_names_and_labels_never_reach_code_unescaped():
    evil = 'x"""\nimport os\nos.remove("main.py")\n#'
    ens = _stump(classes=np.array(["a'b", 'c"\n)d']), name=evil)
    src = emit_micropython(ens, name=evil)
    tree = ast.parse(src)  # still one valid module
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert sorted(a.name for n in imports for a in n.names) == ["array", "math"]
    namespace: dict = {}
    exec(compile(src, "m.py", "exec"), namespace)  # CPython runs the same code
    assert namespace["CLASSES"] == ("a'b", 'c"\n)d')
    assert namespace["predict"]([2]) == "a'b" and namespace["predict"]([3]) == 'c"\n)d'


def _check_under_cpython(src: str, ens, X) -> None:
    """Module ``src`` run by CPython predicts what the interpreter does (sums bit-exact)."""
    namespace: dict = {}
    exec(compile(src, "m.py", "exec"), namespace)
    got = [namespace["predict"](r) for r in X.tolist()]
    want = interpret(ens, X)
    if ens.task in (Task.REGRESSION, Task.RANKING):
        tol = 0 if ens.link is Link.IDENTITY else 1e-6  # sums are bit-exact
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=tol, atol=tol * 1e-6)
    else:
        assert got == want.tolist()


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_generated_module_runs_under_cpython_too(data):
    """The module is plain Python: CPython agrees with the interpreter (fast pre-check of the e2e test)."""
    ens = data.draw(ensembles(categorical=False))
    X = data.draw(inputs_for(ens))
    _check_under_cpython(emit_micropython(ens), ens, X)


def test_categorical_splits_are_refused_clearly():
    tree = Tree.build(op=[Op.CAT, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[0, 0, 0],
                      left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1], cat=[0, -1, -1])
    ens = _stump(trees=(tree,), input_type="float32", cat_sets=np.array([[5]], dtype=np.uint32))
    for emit in (emit_micropython, emit_emlc_csv):
        with pytest.raises(EmlcError, match="categorical"):
            emit(ens)


def _mpy_cross(path, arch: str | None) -> subprocess.CompletedProcess:
    args = ["mpy-cross", *([f"-march={arch}"] if arch else []), "-o", str(path.with_suffix(".mpy")), str(path)]
    return subprocess.run(args, capture_output=True, text=True)


@pytest.mark.parametrize("arch", ["armv6m", "armv7emsp", "xtensawin"])
def test_runtime_and_native_walk_compile_with_mpy_cross(tmp_path, arch):
    require_tool("mpy-cross")
    for name in ("emlc_trees.py", "emlc_trees_native.py"):
        src = tmp_path / name
        src.write_text((RUNTIME_DIR / name).read_text())
        proc = _mpy_cross(src, arch)
        assert proc.returncode == 0, proc.stderr
        assert src.with_suffix(".mpy").stat().st_size > 0


def _compiled_variants() -> dict[str, Ensemble]:
    """Models covering every shape of emitted predict: chain or list winner, inline or chunked, vote, no labels,
    early exit."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    rf = emlc.load(RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X, y))
    from emlc.passes.lossy import confidence_exit

    return {
        "rf": rf,
        "vote": _stump(),
        "unlabelled": rf.replace(classes=None),
        "exit": confidence_exit(rf, 0.6),  # predict stays native under viper: its sums are floats
        "regression": emlc.load(GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=0).fit(X, y)),
    }


def _emit_with_limits(ens: Ensemble, emitter: str, chunk_lines: int, chain: int) -> str:
    import emlc.backends.micropython.emit as mp

    old = mp._CHUNK_LINES, mp._CHAIN_OUTPUTS
    mp._CHUNK_LINES, mp._CHAIN_OUTPUTS = chunk_lines, chain
    try:
        return emit_micropython(ens, emitter=emitter)
    finally:
        mp._CHUNK_LINES, mp._CHAIN_OUTPUTS = old


@pytest.mark.parametrize("arch", ["armv6m", "armv7emsp", "xtensawin"])
def test_native_and_viper_modules_compile_with_mpy_cross(tmp_path, arch):
    """mpy-cross runs the viper type checker: every shape of predict must pass it."""
    require_tool("mpy-cross")
    for name, ens in _compiled_variants().items():
        for emitter in ("native", "viper"):
            for chunk_lines, chain in ((3000, 16), (20, 0)):
                src = tmp_path / f"{name}_{emitter}_{chunk_lines}.py"
                src.write_text(_emit_with_limits(ens, emitter, chunk_lines, chain))
                assert f"@micropython.{emitter}" in src.read_text() or (emitter == "viper" and name in ("regression", "exit"))
                proc = _mpy_cross(src, arch)
                assert proc.returncode == 0, f"{src.name}: {proc.stderr}"


def _plain(src: str) -> str:
    """The module without its emitter decorators: what CPython (and the WebAssembly port) can run."""
    lines = [line for line in src.splitlines() if not line.startswith("@micropython.")]
    return "\n".join(line for line in lines if line != "import micropython") + "\n"


@settings(max_examples=30, deadline=None)
@given(st.data(), st.sampled_from(["native", "viper"]), st.sampled_from([(3000, 16), (1, 0)]))
def test_native_and_viper_modules_are_the_tested_algorithm(data, emitter, limits):
    """Without decorators the compiled variants are plain Python that equals the interpreter."""
    ens = data.draw(ensembles(categorical=False))
    X = data.draw(inputs_for(ens))
    src = _emit_with_limits(ens, emitter, *limits)
    assert src.count("@micropython.") >= 1
    _check_under_cpython(_plain(src), ens, X)


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_trees_split_into_chunk_functions_agree(data):
    """Big models are split into several functions; the split changes no result."""
    import emlc.backends.micropython.emit as mp

    ens = data.draw(ensembles(categorical=False, max_trees=8))
    X = data.draw(inputs_for(ens))
    old = mp._CHUNK_LINES
    mp._CHUNK_LINES = 1
    try:
        src = emit_micropython(ens)
    finally:
        mp._CHUNK_LINES = old
    assert ens.n_trees < 2 or "_CHUNKS = " in src
    _check_under_cpython(src, ens, X)


def test_csv_flavors():
    """auto: emlearn's format when exact, else emlc's, which emlearn's loader cannot misread."""
    from emlc.backends.micropython import emit_csv

    assert emit_csv(_stump()) == emit_emlearn_csv(_stump())
    soft = _stump(aggregation=Aggregation.MEAN, leaves=np.array([[0.7, 0.3], [0.2, 0.8]]))
    text = emit_csv(soft)
    assert text == emit_csv(soft, "emlc") == emit_emlc_csv(soft)
    kinds = [line.split(",")[0] for line in text.splitlines()]
    # emlearn's loader needs 'f' and 'c' before the first leaf; without them it stops there
    assert not {"f", "c"} & set(kinds[: kinds.index("l")])
    with pytest.raises(EmlcError, match="averages class probabilities"):
        emit_csv(soft, "emlearn")
    with pytest.raises(EmlcError, match="unknown CSV flavor"):
        emit_csv(soft, "xml")


def _predict_counting_fallbacks(src: str, X: np.ndarray) -> tuple[list, int]:
    """Predictions of the module under CPython, and how often the exact float path decided."""
    namespace: dict = {}
    exec(compile(src, "m.py", "exec"), namespace)
    calls = []
    decide = namespace["decide"]
    namespace["decide"] = lambda f: calls.append(1) or decide(f)
    return [namespace["predict"](r) for r in X.tolist()], len(calls)


@settings(max_examples=40, deadline=None)
@given(st.data(), st.sampled_from([(3000, 16), (1, 16), (3000, 0)]))
def test_integer_predict_agrees_with_interpreter(data, limits):
    """Fixed-point predict (inline or chunked, winner found with or without a list) equals the interpreter."""
    import emlc.backends.micropython.emit as mp

    ens = data.draw(ensembles(categorical=False, tasks=(Task.CLASSIFICATION,)))
    X = data.draw(inputs_for(ens))
    old = mp._CHUNK_LINES, mp._CHAIN_OUTPUTS
    mp._CHUNK_LINES, mp._CHAIN_OUTPUTS = limits
    try:
        src = emit_micropython(ens)
    finally:
        mp._CHUNK_LINES, mp._CHAIN_OUTPUTS = old
    got, _ = _predict_counting_fallbacks(src, X)
    assert got == interpret(ens, X).tolist()


def test_integer_predict_decides_most_rows_and_returns_labels():
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versi'color", 'vir"ginica'])[y]
    rf = RandomForestClassifier(n_estimators=7, max_depth=4, random_state=0).fit(X, names)
    ens = emlc.load(rf)
    assert fixed_plan(ens) is not None
    src = emit_micropython(ens)
    assert "return 'setosa'" in src  # labels are literals, no lookup per prediction
    got, fallbacks = _predict_counting_fallbacks(src, X)
    assert got == rf.predict(X).tolist()
    assert fallbacks < len(X) // 20


def _two_stumps(leaves: np.ndarray) -> Ensemble:
    """Two one-split trees over feature 0 (rows 0/1 and 2/3 of ``leaves``), averaged."""
    tree = lambda a, b: Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[0.5, 0, 0],
                                   left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, a, b])
    return Ensemble(
        n_features=1, task=Task.CLASSIFICATION, trees=(tree(0, 1), tree(2, 3)), tree_output=np.zeros(2, np.int32),
        leaves=leaves, n_outputs=2, aggregation=Aggregation.MEAN, decision=Decision.ARGMAX,
        classes=np.array([10, 20]), input_type="float32", base_score=np.zeros(2),
    )


def test_ties_and_near_ties_take_the_exact_float_path():
    """Exact ties (first class wins) and sums 1 ulp apart cannot be told apart in fixed point."""
    ulp = np.spacing(0.5)
    leaves = np.array([[1.0, 0.0], [0.5, 0.5 + ulp], [0.0, 1.0], [0.5 + ulp, 0.5]])
    ens = _two_stumps(leaves)
    X = np.array([[0.0], [1.0]])  # 1 : 1, and 1 + ulp/2 on both outputs, which rounds to 1 : 1
    got, fallbacks = _predict_counting_fallbacks(emit_micropython(ens), X)
    assert got == interpret(ens, X).tolist() == [10, 10]
    assert fallbacks == 2
    near = _two_stumps(np.array([[0.5, 0.5 + ulp], [0.5, 0.5], [0.0, 0.0], [0.0, 0.0]]))
    got, fallbacks = _predict_counting_fallbacks(emit_micropython(near), np.array([[0.0]]))
    assert got == interpret(near, np.array([[0.0]])).tolist() == [20]
    assert fallbacks == 1
