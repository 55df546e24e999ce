"""The Python API: compile is what the CLI runs, convert is an emlearn drop-in."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import emlc
from emlc.errors import EmlcError


@pytest.fixture(scope="module")
def iris_rf():
    X, y = load_iris(return_X_y=True)
    return RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y), X


def test_compile_returns_code_and_report(iris_rf):
    model, X = iris_rf
    built = emlc.compile(model, target="avr", level="Os", name="iris")
    assert "int32_t iris_predict(const float *features, int32_t n_features)" in built.code
    assert built.result.level == "Os"
    assert built.target.name == "avr"
    np.testing.assert_array_equal(emlc.interpret(built.ensemble, X), model.predict(X))


@pytest.mark.parametrize("target", ["host", "avr", "cortex-m0"])
def test_compile_emits_llvm_for_the_named_target(iris_rf, target):
    """compile/emit (and so ``emlc --emit llvm|obj``) hand the LLVM backend the target's name."""
    from emlc.backends.llvm import emit_llvm

    model, _ = iris_rf
    built = emlc.compile(model, target=target, emit_as="llvm", name="iris")
    assert built.code == emit_llvm(built.ensemble, target=target, name="iris")
    assert "define" in built.code and "iris_predict" in built.code
    assert isinstance(emlc.compile(model, target=target, emit_as="obj").code, bytes)


def test_compile_to_ir_round_trips(iris_rf):
    model, X = iris_rf
    built = emlc.compile(model, level="O0", emit_as="ir")
    assert emlc.parse_ir(built.code).same_as(built.ensemble)


def test_convert_is_an_emlearn_drop_in(iris_rf, tmp_path):
    model, X = iris_rf
    converted = emlc.convert(model, method="loadable")
    np.testing.assert_array_equal(converted.predict(X), model.predict(X))
    np.testing.assert_allclose(converted.predict_proba(X), model.predict_proba(X), rtol=1e-12)
    header = tmp_path / "iris.h"
    text = converted.save(file=header, name="iris")
    assert header.read_text() == text and "iris_predict" in text


def test_declared_integer_input_changes_the_pointer_type(iris_rf):
    model, _ = iris_rf
    code = emlc.compile(model, input_type="int16", name="m").code
    assert "m_predict(const int16_t *features" in code


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: emlc.convert(m, method="magic"), "unknown method 'magic'"),
        (lambda m: emlc.compile(m, input_type="int12"), "unknown input type 'int12'"),
        (lambda m: emlc.compile(m, target="z80"), "unknown target 'z80'"),
        (lambda m: emlc.compile(m, emit_as="rust"), "unknown output format 'rust'"),
        (lambda m: emlc.compile(m, level="O3"), "O3"),
    ],
)
def test_api_mistakes_raise_emlc_error(iris_rf, call, message):
    with pytest.raises(EmlcError, match=message):
        call(iris_rf[0])


def test_numpy_float_traps_set_by_the_caller_do_not_break_compilation():
    """Thresholds at the edges of float32 (denormal, beyond the range) need casts and
    nextafter steps that underflow or overflow on purpose; np.seterr(all="raise") in the
    caller (some libraries set it) must not make emlc raise, and is left as it was."""
    from emlc.backends.c import choose, emit_c
    from emlc.backends.micropython import emit_csv
    from emlc.targets import get_target
    from emlc.ir import Op
    from tests.backends.c.test_emit import _probe

    specs = [(t, op, dl) for t in (1e-46, -1e-46, 1e39, -1e39, 0.1) for op in (Op.LE, Op.LT) for dl in (False, True)]
    ens = _probe(specs)
    with np.errstate(all="raise"):
        for target, layout in (("avr", "table"), ("host", "inline"), ("cortex-m0", "table")):
            assert "_predict" in emit_c(emlc.optimize(ens, level="O2", target=target).ensemble, target, "m", layout)
        assert choose(emlc.optimize(ens, level="O2", target="avr").ensemble, get_target("avr"), None, True).costs
        assert emit_csv(ens)
        assert np.geterr()["under"] == "raise"


@pytest.mark.parametrize("target", ["host", "cortex-m0"])
def test_compile_emits_llvm_ir_and_objects_for_a_named_target(iris_rf, target):
    model, _ = iris_rf
    assert "define" in emlc.compile(model, target=target, emit_as="llvm").code
    assert emlc.compile(model, target=target, emit_as="obj").code.startswith(b"\x7fELF")


def test_a_lossy_exit_is_measured_in_the_layout_the_exact_build_takes():
    """Digits 30x6 on the ATmega2560 at -O2: the backend builds the exact model inline within
    the default flash budget (the IR's estimate alone says table). The lossy exit is weighed
    in that layout, where it is left out, so it cannot take the table's twice-slower walk."""
    from sklearn.datasets import load_digits

    from emlc.api import Lossy
    from emlc.passes.lossy.apply import LossySettings

    X, y = load_digits(return_X_y=True)
    clf = RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0).fit(X, y)
    exact = emlc.compile(clf, target="avr")
    lossy = emlc.compile(clf, target="avr", lossy=Lossy(LossySettings(early_exit=0.5)))
    assert exact.layout == "inline"
    assert lossy.layout == exact.layout
    assert any("early exit left out" in n for n in lossy.lossy.notes)
