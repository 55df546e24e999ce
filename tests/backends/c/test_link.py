"""Host C links are the library's to the last bit: the header's P_link follows the same
float steps with the C library's exp, so P_raw + P_link (and, for XGBoost's float32,
the public predict_proba / predict_values) equal the library on every row, probabilities
at 0 and 1 and overflowing exp included. Where the library uses numpy's own exp
(scikit-learn's softmax and log link) the C follows the libm rule instead, as its header
says."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import emlc
from emlc.backends.c import emit_c
from emlc.ir import Link, LinkMath, Task
from emlc.ir.interpret import interpret, interpret_proba
from tests.conftest import require_tool
from tests.e2e.harness import STRICT
from tests.link_cases import cases, ids


def _double(ens) -> bool:
    return ens.accum_dtype == "float64" and ens.link_math is not LinkMath.XGBOOST


def _check_rows(ens, X: np.ndarray, name: str, own: str) -> str:
    """C that prints, per row of ``X``, the linked outputs (binary classifiers: 1 - p and
    p) in hex bits, then what the public float API wrote. ``name``: the model's prefix,
    ``own``: this function's (``own``_check)."""
    n, f = X.shape
    if ens.input_type == "float64":
        in_t, in_bits = "double", "uint64_t"
        cells = ", ".join(f"UINT64_C(0x{v:016x})" for v in X.astype(np.float64).view(np.uint64).ravel())
    else:
        in_t, in_bits = "float", "uint32_t"
        cells = ", ".join(f"0x{v:08x}UL" for v in X.astype(np.float32).view(np.uint32).ravel())
    real, bits, fmt = ("double", "uint64_t", "%016llx") if _double(ens) else ("float", "uint32_t", "%08llx")
    pairs = ens.task is Task.CLASSIFICATION and ens.n_outputs == 1
    api = f"{name}_predict_proba" if ens.task is Task.CLASSIFICATION else f"{name}_predict_values"
    n_api = 2 if pairs else ens.n_outputs
    # the double API where the outputs are double: what the library returns, bit for bit
    api64 = (f"""{api}_f64(features, {f}, api64, {n_api});
        for (j = 0; j < {n_api}; ++j) {{
            {own}_put(api64[j]);
        }}""" if _double(ens) else "")
    return f"""
static const {in_bits} {own}_rows[{n * f}] = {{ {cells} }};
static void {own}_put(const {real} v) {{
    union {{ {real} x; {bits} u; }} b;
    b.x = v;
    printf("{fmt} ", (unsigned long long)b.u);
}}
static void {own}_check(void) {{
    union {{ {in_bits} u; {in_t} x; }} c;
    {in_t} features[{f}];
    float api[{n_api}];
    {"double api64[" + str(n_api) + "];" if _double(ens) else ""}
    {real} raw[{ens.n_outputs}];
    int i, j;
    printf("#\\n");
    for (i = 0; i < {n}; ++i) {{
        for (j = 0; j < {f}; ++j) {{
            c.u = {own}_rows[i * {f} + j];
            features[j] = c.x;
        }}
        {name}_raw(features, raw);
        {name}_link(raw);
        {f"{own}_put(1 - raw[0]);" if pairs else ""}
        for (j = 0; j < {ens.n_outputs}; ++j) {{
            {own}_put(raw[j]);
        }}
        {api}(features, {f}, api, {n_api});
        for (j = 0; j < {n_api}; ++j) {{
            union {{ float x; uint32_t u; }} b;
            b.x = api[j];
            printf("%08lx ", (unsigned long)b.u);
        }}
        {api64}
        printf("\\n");
    }}
}}
"""


@pytest.fixture(scope="module")
def host_outputs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per case: (linked outputs in the link's type, the float API's outputs, the double
    API's outputs or None) per row, from one host program holding every case's header
    (one compile)."""
    require_tool("gcc")
    models = [emlc.load(c.model) for c in cases()]
    parts = ["#include <stdio.h>"]
    for i, (case, ens) in enumerate(zip(cases(), models)):
        parts += [emit_c(ens, "host", f"m{i}"), _check_rows(ens, case.X, f"m{i}", f"t{i}")]
    calls = "".join(f"    t{i}_check();\n" for i in range(len(models)))
    parts.append(f"int main(void)\n{{\n{calls}    return 0;\n}}\n")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "t.c").write_text("\n".join(parts))
        subprocess.run(["gcc", *STRICT, "t.c", "-o", "t", "-lm"], cwd=d, check=True, capture_output=True)
        out = subprocess.run([str(d / "t")], check=True, capture_output=True, text=True).stdout
    results = {}
    for case, ens, block in zip(cases(), models, out.split("#\n")[1:]):
        words = np.array([[int(w, 16) for w in line.split()] for line in block.splitlines()], dtype=np.uint64)
        width = case.expected.shape[1] if case.expected.ndim == 2 else 1
        double = _double(ens)
        linked = words[:, :width].astype(np.uint64 if double else np.uint32).view(np.float64 if double else np.float32)
        api = words[:, width:2 * width].astype(np.uint32).view(np.float32)
        api64 = words[:, 2 * width:].view(np.float64) if double else None
        results[case.name] = linked, api, api64
    return results


@pytest.mark.parametrize("case", cases(), ids=ids())
def test_host_c_link_equals_library_bit_for_bit(case, host_outputs):
    ens = emlc.load(case.model)
    linked, api, api64 = host_outputs[case.name]
    expected = case.expected.reshape(linked.shape)
    if ens.link_math is LinkMath.NUMPY and ens.link is not Link.IDENTITY:
        # numpy's exp is not C's: the C equals the same steps with the C library's exp
        libm = replace(ens, link_math=LinkMath.LIBM)
        expected = (interpret_proba(libm, case.X) if case.proba else interpret(libm, case.X)).reshape(linked.shape)
    assert np.array_equal(linked, expected, equal_nan=True)
    with np.errstate(over="ignore"):
        assert np.array_equal(api, expected.astype(np.float32), equal_nan=True)
    if api64 is not None:
        assert np.array_equal(api64, expected, equal_nan=True)


def test_headers_say_what_their_exp_promises():
    xgb_case = cases()[0]
    ens = emlc.load(xgb_case.model)
    host = emit_c(ens, "host", "m")
    assert "#include <math.h>" in host and "XGBoost's steps with the C library's exp" in host
    for target in ("avr", "cortex-m4f", "mcs51"):
        device = emit_c(ens, target, "m")
        assert "#include <math.h>" not in device and "emlc's own exp" in device and "not bit-identical" in device
    sk = emlc.load(next(c for c in cases() if "HistGradientBoostingClassifier multiclass" in c.name).model)
    assert "numpy's" in emit_c(sk, "host", "m")
    forest = emlc.load(cases()[-1].model)
    assert "#include <math.h>" not in emit_c(forest, "host", "m")
