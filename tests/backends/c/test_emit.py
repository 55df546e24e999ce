"""C backend on the host compiler: every IR shape against the reference interpreter."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.c import choose, emit_c, size_report
from emlc.backends.c.plan import TableForcing
from emlc.errors import EmlcError
from emlc.ir import Aggregation, Decision, Ensemble, FeatureRank, Link, Op, Task, Tree
from emlc.ir.interpret import apply_link, decide, interpret_raw
from emlc.targets import get_target
from tests.conftest import require_tool
from tests.e2e.harness import STRICT, run_model
from tests.strategies import ensembles, inputs_for


def expected(ens: Ensemble, X) -> tuple[np.ndarray, np.ndarray]:
    """(predict as the C API returns it: class index / +-1 / value, proba or values)."""
    raw = interpret_raw(ens, X)
    value = apply_link(ens, raw)
    if ens.task in (Task.CLASSIFICATION, Task.ANOMALY):
        pred = decide(ens, raw, value)
    else:
        pred = value[:, 0]
    if ens.task is Task.CLASSIFICATION and value.shape[1] == 1:
        value = np.hstack([1 - value, value])
    return pred, value


def check_agrees(ens: Ensemble, X, layout: str, target: str = "host", speed: bool = True,
                 forcing: TableForcing = TableForcing()) -> None:
    """The built header equals the interpreter on ``X`` (``speed`` False: the -Os build;
    ``forcing``: the table layout held to some of its encodings)."""
    got = run_model(ens, X, target, layout, speed=speed, forcing=forcing)
    pred, values = expected(ens, X)
    if ens.task in (Task.CLASSIFICATION, Task.ANOMALY):
        np.testing.assert_array_equal(got.predict, pred)
    else:
        np.testing.assert_allclose(got.predict, pred.astype(np.float32), rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(got.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)


@settings(max_examples=25)
@given(st.data())
def test_random_ir_matches_interpreter(data):
    require_tool("gcc")
    ens = data.draw(ensembles())
    X = data.draw(inputs_for(ens))
    for layout in ("inline", "table"):
        check_agrees(ens, X, layout)


def _stump(threshold: float, op: Op = Op.LE, default_left: bool = False, thr_dtype: str = "float64",
           input_type: str = "float32") -> Ensemble:
    """One split on feature 0; leaf rows 0 (left) and 1 (right) as a binary classifier."""
    tree = Tree.build(op=[op, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[threshold, 0, 0],
                      left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1],
                      default_left=[default_left, False, False], threshold_dtype=thr_dtype)
    return Ensemble(n_features=1, task=Task.CLASSIFICATION, trees=(tree,), tree_output=np.array([0], np.int32),
                    leaves=np.array([[1.0, 0.0], [0.0, 1.0]]), n_outputs=2, base_score=np.zeros(2),
                    decision=Decision.ARGMAX, classes=np.array([0, 1]), input_type=input_type)


def _probe(specs: list[tuple[float, Op, bool]], input_type: str = "float32") -> Ensemble:
    """One stump per (threshold, op, NaN-left) on its own feature and its own output column,
    so one row of equal features shows every stump's decision at once."""
    trees = tuple(
        Tree.build(op=[op, Op.LEAF, Op.LEAF], feature=[i, -1, -1], threshold=[t, 0, 0], left=[1, -1, -1],
                   right=[2, -1, -1], leaf=[-1, 0, 1], default_left=[dl, False, False])
        for i, (t, op, dl) in enumerate(specs)
    )
    n = len(specs)
    return Ensemble(n_features=n, task=Task.REGRESSION, trees=trees, tree_output=np.arange(n, dtype=np.int32),
                    leaves=np.array([[0.0], [1.0]]), n_outputs=n, base_score=np.zeros(n), input_type=input_type)


EDGE_VALUES = [0.1, np.float32(0.1), np.nextafter(np.float32(0.1), 0), -0.0, 0.0, np.inf, -np.inf, np.nan,
               3.4e38, -3.4e38, 1e-45, -1e-45]
THRESHOLDS = [0.1, -0.0, 0.0, np.inf, -np.inf, 1e300, -1e300, 1e-46, float(np.float32(0.1))]


@pytest.mark.parametrize("layout", ["inline", "table"])
def test_float64_thresholds_exact_on_float32_inputs(layout):
    require_tool("gcc")
    specs = [(t, op, dl) for t in THRESHOLDS for op in (Op.LE, Op.LT) for dl in (False, True)]
    ens = _probe(specs)
    X = np.repeat(np.array(EDGE_VALUES, dtype=np.float64)[:, None], ens.n_features, axis=1)
    check_agrees(ens, X, layout)


def test_inf_and_nan_never_printed():
    ens = _probe([(t, op, False) for t in (np.inf, -np.inf) for op in (Op.LE, Op.LT)])
    for layout in ("inline", "table"):
        code = emit_c(ens, "host", "m", layout)
        assert not re.search(r"(?<![A-Za-z_])(inf|inff|INFINITY|HUGE_VAL|NAN|nan)(?![A-Za-z_(])", code)


@pytest.mark.parametrize("input_type", ["int8", "uint8", "int16", "uint16", "int32"])
def test_integer_inputs_with_float_thresholds(input_type):
    require_tool("gcc")
    info = np.iinfo(input_type)
    values = [v for v in (info.min, info.min + 1, -1, 0, 1, 2, 3, info.max - 1, info.max) if info.min <= v <= info.max]
    specs = [(t, op, False) for t in (2.5, 2.0, -0.5, 1e12, -1e12, np.inf, -np.inf, float(info.max), float(info.min))
             for op in (Op.LE, Op.LT)]
    ens = _probe(specs, input_type=input_type)
    assert f"const {input_type}_t *features" in emit_c(ens, "host", "m", "inline")
    X = np.repeat(np.array(values)[:, None], ens.n_features, axis=1)
    for layout in ("inline", "table"):
        check_agrees(ens, X, layout)


def test_float64_inputs_compare_in_double():
    require_tool("gcc")
    t = 0.1
    ens = _stump(t, input_type="float64")
    X = np.array([[0.1], [np.nextafter(0.1, 1)], [np.nextafter(0.1, 0)], [np.nan]])
    code = emit_c(ens, "host", "m", "inline")
    assert "const double *features" in code
    for layout in ("inline", "table"):
        check_agrees(ens, X, layout)


def _forest(n_trees=3, width=3, **kw) -> Ensemble:
    trees = []
    rng = np.random.default_rng(1)
    for i in range(n_trees):
        trees.append(Tree.build(op=[Op.LE, Op.LE, Op.LEAF, Op.LEAF, Op.LEAF], feature=[0, 1, -1, -1, -1],
                                threshold=[float(i), 0.5, 0, 0, 0], left=[1, 2, -1, -1, -1],
                                right=[4, 3, -1, -1, -1], leaf=[-1, -1, 3 * i, 3 * i + 1, 3 * i + 2]))
    base = dict(n_features=2, task=Task.CLASSIFICATION, trees=tuple(trees), tree_output=np.zeros(n_trees, np.int32),
                leaves=rng.random((3 * n_trees, width)), n_outputs=width, base_score=np.zeros(width),
                decision=Decision.ARGMAX, classes=np.arange(width))
    base.update(kw)
    return Ensemble(**base)


@pytest.mark.parametrize("kw", [
    dict(aggregation=Aggregation.MEAN),
    dict(aggregation=Aggregation.VOTE),
    dict(link=Link.SOFTMAX, base_score=np.array([0.1, -0.2, 0.3])),
    dict(accum_dtype="float32", link=Link.SOFTMAX),
])
def test_aggregations_and_links(kw):
    require_tool("gcc")
    X = np.random.default_rng(2).normal(0, 2, (60, 2))
    for layout in ("inline", "table"):
        check_agrees(_forest(**kw), X, layout)


def test_sigmoid_gt_half_decided_on_exact_cutoff():
    """XGBoost-style binary model: predict must equal sigmoid(raw) > 0.5 bit-exactly, incl. near 0."""
    require_tool("gcc")
    trees = []
    vals = [-1e-9, 0.0, 1e-9, 2e-9, -2e-9, 5e-8, -5e-8, 3.0, -3.0]
    for i, v in enumerate(vals):
        trees.append(Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[i % 2, -1, -1], threshold=[0.0, 0, 0],
                                left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 2 * i, 2 * i + 1]))
    leaves = np.array([[v] for v in vals for _ in range(2)], dtype=np.float32) * np.tile([[1.0], [-1.0]], (len(vals), 1)).astype(np.float32)
    for accum in ("float32", "float64"):
        ens = Ensemble(n_features=2, task=Task.CLASSIFICATION, trees=tuple(trees), tree_output=np.zeros(len(vals), np.int32),
                       leaves=leaves, n_outputs=1, base_score=np.array([1e-9]), link=Link.SIGMOID, link_params=(1.0,),
                       decision=Decision.GT_HALF, classes=np.array([0, 1]), accum_dtype=accum)
        X = np.array([[a, b] for a in (-1.0, 0.0, 1.0) for b in (-1.0, 0.0, 1.0, np.nan)])
        for layout in ("inline", "table"):
            check_agrees(ens, X, layout)


def shared_subtree_tree() -> Tree:
    """A DAG over two features: node 3 is the left child of node 1 and the right child of node 2."""
    return Tree.build(op=[Op.LE, Op.LE, Op.LE, Op.LE, Op.LEAF, Op.LEAF, Op.LEAF, Op.LEAF],
                      feature=[0, 1, 1, 0, -1, -1, -1, -1], threshold=[0.0, 1.0, -1.0, 5.0, 0, 0, 0, 0],
                      left=[1, 3, 6, 4, -1, -1, -1, -1], right=[2, 7, 3, 5, -1, -1, -1, -1],
                      leaf=[-1, -1, -1, -1, 0, 1, 2, 3])


def test_dag_shared_subtree_inline_uses_labels():
    require_tool("gcc")
    tree = shared_subtree_tree()
    ens = Ensemble(n_features=2, task=Task.REGRESSION, trees=(tree,), tree_output=np.zeros(1, np.int32),
                   leaves=np.array([[1.0], [2.0], [3.0], [4.0]]), n_outputs=1, base_score=np.zeros(1))
    code = emit_c(ens, "host", "m", "inline")
    assert "goto t0_n3;" in code
    X = np.random.default_rng(3).normal(0, 4, (80, 2))
    for layout in ("inline", "table"):
        check_agrees(ens, X, layout)


def test_ranked_features_and_integer_leaves():
    require_tool("gcc")
    ens = _forest(n_trees=2, width=2, classes=np.arange(2))
    ranks = (FeatureRank(np.array([-1.0, 0.0, 1.0]), strict=False), FeatureRank(np.array([0.5]), strict=True))
    trees = tuple(t.replace(threshold=np.array([1.0, 0.0, 0, 0, 0])) for t in ens.trees)
    ens = ens.replace(trees=trees, feature_ranks=ranks, leaves=np.array([[3, -1], [0, 5], [2, 2]] * 2, dtype=np.int8),
                      leaf_scale=np.array([0.25, 0.5]), leaves_unused=None) if False else ens.replace(
        trees=trees, feature_ranks=ranks,
        leaves=np.array([[3, -1], [0, 5], [2, 2]] * 2, dtype=np.int8), leaf_scale=np.array([0.25, 0.5]))
    X = np.array([[a, b] for a in (-2.0, -1.0, -0.5, 0.0, 1.0, 2.0, np.nan) for b in (0.0, 0.5, 0.6, np.nan)])
    for layout in ("inline", "table"):
        check_agrees(ens, X, layout)


HOSTILE = ["*/ int x; /*", "line\nbreak", 'q"uote', "back\\slash", "tri??/graph", "??=", "\x00nul", "é"]


def test_hostile_names_stay_inside_comments():
    require_tool("gcc")
    ens = _forest(n_trees=1, width=len(HOSTILE[:3]), classes=np.array(HOSTILE[:3], dtype=object))
    ens = ens.replace(feature_names=tuple(HOSTILE[3:5]), name="".join(HOSTILE))
    code = emit_c(ens, "host", "m")
    head, rest = code.split("\n */\n", 1)
    assert "*/" not in head and rest.startswith("#ifndef")
    assert all(line.startswith(("/*", " *")) for line in head.splitlines())
    assert "??" not in code and "\x00" not in code
    X = np.zeros((2, 2))
    check_agrees(ens, X, "inline")


@pytest.mark.parametrize("bad", ["1model", "int", "my-model", "", "a b", "__x", "_Upper", "x*/", "name\n"])
def test_bad_names_are_refused(bad):
    with pytest.raises(EmlcError, match="name"):
        emit_c(_stump(0.0), "host", bad)


def test_unknown_layout_and_target_are_user_errors():
    with pytest.raises(EmlcError, match="layout"):
        emit_c(_stump(0.0), "host", "m", "bogus")
    with pytest.raises(EmlcError, match="target"):
        emit_c(_stump(0.0), "z80", "m")


def _compile_run(code: str, main: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "t.c").write_text(code + main)
        subprocess.run(["gcc", *STRICT, "t.c", "-o", "t", "-lm"], cwd=d, check=True, capture_output=True)
        return subprocess.run([str(d / "t")], cwd=d, check=True, capture_output=True, text=True).stdout


def test_error_codes_and_two_models_in_one_program():
    require_tool("gcc")
    a = emit_c(_forest(), "host", "first", "inline")
    b = emit_c(_forest(link=Link.SOFTMAX), "host", "second", "table")
    r = _dag_regressor()
    c = emit_c(r, "host", "third")
    main = r"""
#include <stdio.h>
int main(void) {
    float x[2] = {0.5f, 0.25f}, out[3];
    float y = third_predict(x, 1);
    printf("%d %d %d %d %d %d %d\n", (int)first_predict(x, 3), (int)first_predict_proba(x, 2, out, 2),
           (int)first_predict_proba(x, 1, out, 3), (int)second_predict_proba(x, 2, out, 3),
           (int)(second_predict(x, 2) >= 0), (int)(y != y), (int)third_predict_values(x, 2, out, 2));
    return 0;
}
"""
    assert _compile_run(a + b + c, main).split() == ["-1", "-2", "-1", "3", "1", "1", "-2"]


def _dag_regressor() -> Ensemble:
    tree = Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[0.0, 0, 0],
                      left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1])
    return Ensemble(n_features=2, task=Task.REGRESSION, trees=(tree,), tree_output=np.zeros(1, np.int32),
                    leaves=np.array([[1.0], [2.0]]), n_outputs=1, base_score=np.zeros(1), link=Link.EXP)


def test_size_report_counts_and_fit_refusal():
    big = _forest(n_trees=3000)
    rep = size_report(big, "avr", "table")
    assert rep["decision_nodes"] == 6000 and rep["leaves"] == 9000
    assert rep["flash_data_bytes"] > 6000 * 4 and rep["bytes_per_decision_node"] > 4
    with pytest.raises(EmlcError, match=r"bytes of flash .* rv32ec has 16384"):
        emit_c(big, "rv32ec", "m", "table")
    small = size_report(_stump(0.0), "avr", "table")
    assert small["flash_data_bytes"] < 64 and small["ram_bytes_model_data"] == 0


def test_avr_estimate_covers_the_linked_code_and_refuses_what_cannot_fit():
    """The flash estimate behind refusals is not below what avr-gcc links and not far above
    it (forest and boosting, float and int16 inputs, both layouts, with and without the
    first walk, P_rows on int16 keys), so a model that cannot fit an ATmega328P is refused
    instead of failing to link, and one that fits is not refused."""
    require_tool("avr-gcc")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    forest = emlc.load(RandomForestClassifier(n_estimators=6, max_depth=6, random_state=0).fit(X, y))
    boosted = emlc.load(GradientBoostingClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y))
    cases = [(e, layout, speed, None) for e in (forest, boosted)
             for layout, speed in (("inline", True), ("inline", False), ("table", True))]
    points = [(forest, None, True, c.point) for c in choose(forest, get_target("avr"), None, True).costs]
    for base, layout, speed, point in [*cases, *points]:
        for ens, in_t in ((base, "float"), (base.replace(input_type="int16"), "int16_t")):
            keyed = point is not None and point.keyed
            header = emit_c(ens, "avr", "m", layout, speed=speed, point=point)
            assert ("_halves(" in header) == (keyed and in_t == "float")
            main = (header + f"\nint main(void) {{\n    static {in_t} x[64];\n    static float p[10];\n"
                    "    return (int)m_predict(x, 64) + (int)m_predict_proba(x, 64, p, 10);\n}\n")
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "m.c").write_text(main)
                subprocess.run(["avr-gcc", "-mmcu=atmega2560", "-Os", "-std=c99", "m.c", "-o", "m.elf"], cwd=tmp,
                               check=True)
                out = subprocess.run(["avr-size", "-A", "m.elf"], cwd=tmp, check=True, capture_output=True,
                                     text=True).stdout
            linked = sum(int(m.group(2)) for m in re.finditer(r"^\.(text|data)\s+(\d+)", out, re.M))
            estimate = size_report(ens, "avr", layout, speed=speed, point=point)["flash_bytes_estimate"]
            assert linked <= estimate <= 1.6 * linked, (layout, speed, point, in_t, linked, estimate)
    big = emlc.load(RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y))
    with pytest.raises(EmlcError, match="does not fit.*atmega328p"):
        emit_c(big, "atmega328p", "m", "inline")



def test_atmega328p_gets_the_inline_walk_for_integer_features_when_it_fits():
    """Integer features make AVR inline code about 3/8 the size of float ones, and the layout
    choice and the fit check count it with one cost model (emlc/cost.py): at -O2 an
    ATmega328P gets the fast inline walk for a digits forest with int16 features (its float
    twin stays a table), and it links, runs and equals scikit-learn."""
    require_tool("avr-gcc", "simavr")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc
    from emlc.passes import optimize
    from tests.e2e.harness import run_model

    X, y = load_digits(return_X_y=True)
    clf = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X[:1200], y[:1200])
    ens = emlc.load(clf)
    assert optimize(ens, level="O2", target="atmega328p").layout == "table"
    res = optimize(ens.replace(input_type="int16"), level="O2", target="atmega328p")
    assert res.layout == "inline"
    got = run_model(res.ensemble, X[1200:1260], "atmega328p", "inline").predict
    np.testing.assert_array_equal(np.asarray(ens.classes)[got], clf.predict(X[1200:1260]))


def test_header_opens_with_what_emlc_generated():
    from emlc.ir.text import parse_ir
    from tests.ir.test_text import IRIS_LIKE

    ens = parse_ir(IRIS_LIKE)
    lines = emit_c(ens, target="avr", name="iris").splitlines()
    decision = ens.n_nodes - ens.n_leaves
    assert lines[1] == (
        f" * Generated by emlc: classification ensemble of {ens.n_trees} trees ({decision} decision nodes, "
        f"{ens.n_leaves} leaves),"
    )
    assert lines[2].endswith("; functions prefixed iris_.")
