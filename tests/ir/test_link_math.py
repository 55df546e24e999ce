"""The interpreter's links follow each library's own float steps: predict_proba and
predict of linked models are bit-identical to XGBoost's, LightGBM's and scikit-learn's,
extreme margins included (see tests/link_cases.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import emlc
from emlc.errors import IRError
from emlc.ir import Link, LinkMath
from emlc.ir.interpret import interpret, interpret_proba
from emlc.ir.text import parse_ir, print_ir
from emlc.ir.verify import verify
from tests.link_cases import cases, ids


@pytest.mark.parametrize("case", cases(), ids=ids())
def test_interpreter_equals_library_bit_for_bit(case):
    ens = emlc.load(case.model)
    got = interpret_proba(ens, case.X) if case.proba else interpret(ens, case.X)
    assert got.dtype == case.expected.dtype
    assert np.array_equal(got, case.expected, equal_nan=True)


def test_each_library_has_its_link_math():
    math = {c.name.split()[0]: emlc.load(c.model).link_math for c in cases() if "x1" in c.name.split()[-1]}
    assert math["xgboost"] is LinkMath.XGBOOST and math["lightgbm"] is LinkMath.LIBM
    by_name = {c.name: emlc.load(c.model).link_math for c in cases()}
    assert by_name["sklearn GradientBoostingClassifier binary x1"] is LinkMath.LIBM  # SciPy's expit
    assert by_name["sklearn HistGradientBoostingClassifier multiclass x1"] is LinkMath.NUMPY  # numpy softmax


def test_numpy_exp_is_not_the_c_library_exp():
    """Why the link math matters: with numpy's exp in place of LightGBM's C exp, the
    scaled Poisson model's predictions differ in the last bit."""
    case = next(c for c in cases() if c.name == "lightgbm poisson x400")
    ens = replace(emlc.load(case.model), link_math=LinkMath.NUMPY)
    assert not np.array_equal(interpret(ens, case.X), case.expected)


def test_link_math_survives_the_text_form():
    for case in cases()[:4]:
        ens = emlc.load(case.model)
        assert parse_ir(print_ir(ens)).link_math is ens.link_math


def test_isolation_link_has_only_numpy_math():
    ens = emlc.load(cases()[0].model)
    bad = replace(ens, link=Link.ISOLATION, link_params=(1.0, 0.5), link_math=LinkMath.LIBM)
    with pytest.raises(IRError, match="isolation link has only numpy"):
        verify(bad)
