"""P_qadd over leaf records on AVR (leaf_add): the assembly adds what the rule
(:func:`emlc.backends.c.leaf_records.scaled`) says for any records it is given (simavr),
and the AVR speed build's P_qadd, assembly on simavr and its C form on the host, gives
the plan's fixed-point sums over the rows its walk records."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c, leaf_add, leaf_records
from emlc.backends.c.plan import Layout, make_plan
from emlc.cost import Point
from emlc.ir.interpret import leaf_indices
from emlc.targets import get_target
from tests.backends.c.test_emit import expected
from tests.conftest import require_tool
from tests.e2e.harness import build, execute, run_model

#: each line: the row's index, then every sum as the 8 hex digits of its uint16 bits (the
#: harness's simavr filter keeps such lines)
_PRINT = r"""
void out_char(char c);
void out_done(void);
void run_all(void);

static void put_line(uint16_t i, const int16_t *q, uint16_t n)
{
    uint16_t j;
    int s;
    char d[6];
    int k = 0;
    do {
        d[k++] = (char)('0' + i % 10u);
        i /= 10u;
    } while (i);
    while (k) {
        out_char(d[--k]);
    }
    for (j = 0; j < n; ++j) {
        out_char(' ');
        for (s = 28; s >= 0; s -= 4) {
            out_char("0123456789abcdef"[((uint32_t)(uint16_t)q[j] >> s) & 15u]);
        }
    }
    out_char('\n');
}
"""

#: <avr/pgmspace.h> on the host: flash is memory (the header's C form runs there)
_HOST_PGMSPACE = ("#define PROGMEM\n#define pgm_read_byte(p) (*(const uint8_t *)(p))\n"
                  "#define pgm_read_word(p) (*(const uint16_t *)(p))\n"
                  "#define pgm_read_dword(p) (*(const uint32_t *)(p))")


def _c_array(name: str, ctype: str, values) -> str:
    body = ", ".join(str(int(v)) for v in values)
    return f"static const {ctype} {name}[{max(len(values), 1)}] PROGMEM = {{{body or 0}}};\n"


def _lines(text: str, n: int) -> np.ndarray:
    """The int16 sums of rows 0 .. n - 1 from :data:`_PRINT`'s lines."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    assert [int(line[0]) for line in lines] == list(range(n)), text[-500:]
    return np.array([[int(v, 16) for v in line[1:]] for line in lines], dtype=np.int64).astype(np.uint16).view(np.int16)


@pytest.mark.parametrize("stored", [False, True])
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_the_assembly_adds_what_the_rule_says(stored, data):
    """Random count rows (1-16 columns, a scale up to 255 so that values reach a byte)
    encoded as records, with multipliers or (``stored``) their values, added by the
    assembly on simavr to sums that start near byte and sign boundaries (carries into
    the upper byte, wrap-around): each sum is its start plus the entry's value
    (:func:`scaled` of the count, or the one stored), int16 arithmetic."""
    require_tool("avr-gcc", "simavr")
    width = data.draw(st.integers(1, 16))
    scale = data.draw(st.sampled_from([64.0, 128.0, 255.0]))
    rows = data.draw(st.lists(st.lists(st.integers(0, 255), min_size=width, max_size=width).filter(any),
                              min_size=1, max_size=24))
    values = np.array(rows, dtype=np.int64)
    want = np.rint(scale * values / values.sum(axis=1, keepdims=True)).astype(np.int64)
    rec = leaf_records.encode(values, want, scale, stored=stored)
    assert rec is not None and rec.fast is not None and rec.stored == stored
    if stored:
        np.testing.assert_array_equal(rec.fast, np.where(values > 0, want, 0))
    assume(int(rec.fast.max()) < 256)
    edges = np.array([0, 255, 256, -1, -256, 32767 - 200, -32768, 511, 65], dtype=np.int64)
    start = edges[np.arange(values.size) % edges.size].reshape(values.shape)
    n, w = values.shape
    src = ("#include <stdint.h>\n#include <avr/pgmspace.h>\n" + _PRINT
           + leaf_add.asm_function("t", "int16_t", rec.mask_bytes, width, stored) + "\n"
           + _c_array("t_rec", "uint8_t", rec.data.tolist()) + _c_array("t_at", "uint16_t", rec.offsets.tolist())
           + _c_array("t_start", "int16_t", start.ravel().tolist())
           + "void run_all(void)\n{\n    int16_t q[16];\n    uint16_t r, j;\n"
           f"    for (r = 0; r < {n}u; ++r) {{\n"
           f"        for (j = 0; j < {w}u; ++j) {{\n"
           f"            q[j] = (int16_t)pgm_read_word(&t_start[r * {w}u + j]);\n        }}\n"
           "        t_qadd_asm(q, t_rec + pgm_read_word(&t_at[r]));\n"
           f"        put_line(r, q, {w}u);\n    }}\n    out_done();\n}}\n")
    with tempfile.TemporaryDirectory() as tmp:
        got = _lines(execute("avr", build("avr", src, Path(tmp))), n)
    expect = (start + rec.fast + 2**15) % 2**16 - 2**15
    np.testing.assert_array_equal(got, expect)


def _forest(classes: int):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    keep = y < classes
    X, y = X[keep], y[keep]
    clf = RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X[:500], y[:500])
    return emlc.load(clf), X[500:560].astype(np.float32)


@pytest.mark.parametrize("classes, stored", [(10, False), (8, False), (10, True), (8, True)])
def test_speed_builds_add_the_plans_sums_in_assembly_and_in_c(classes, stored):
    """The AVR speed table build of a digits forest (a two-byte mask for 10 classes, one
    for 8; records with multipliers or their values) on simavr, P_qadd in assembly, and
    the same header on the host, P_qadd's C form: over the rows P_rows records, the sums
    are the plan's on every row; its predictions (the exact tiers read the counts behind
    the stored values) are the interpreter's."""
    require_tool("gcc")
    require_tool("avr-gcc", "simavr")
    ens, X = _forest(classes)
    plan = make_plan(ens, get_target("avr"), Layout.TABLE, stored_records=stored)
    fx, rec = plan.fixed, plan.records
    assert rec is not None and fx is not None and rec.mask_bytes == (2 if classes > 8 else 1)
    assert rec.stored == stored
    header = emit_c(ens, "avr", "m", "table", point=Point(Layout.TABLE, stored=stored))
    assert "m_qadd_asm(q + o" in header and "#if defined(M_QADD_ASM)" in header
    want = fx.init + fx.leaves[leaf_indices(ens, X)].sum(axis=1)
    bits = X.view(np.uint32)
    n, f = X.shape
    run = (_PRINT + _c_array("x_bits", "uint32_t", bits.ravel().tolist())
           + "void run_all(void)\n{\n    float x[" + str(f) + "];\n"
           f"    {plan.numbers.row_t} r[{ens.n_trees}];\n    {fx.acc_t} q[{ens.n_outputs}];\n"
           "    uint16_t i, j, t;\n"
           f"    for (i = 0; i < {n}u; ++i) {{\n"
           f"        for (j = 0; j < {f}u; ++j) {{\n"
           "            union { uint32_t u; float v; } b;\n"
           f"            b.u = pgm_read_dword(&x_bits[i * {f}u + j]);\n            x[j] = b.v;\n        }}\n"
           "        m_rows(x, r);\n"
           + "".join(f"        q[{k}] = {int(v)};\n" for k, v in enumerate(fx.init.tolist()))
           + f"        for (t = 0; t < {ens.n_trees}u; ++t) {{\n            m_qadd(q, 0u, r[t]);\n        }}\n"
           f"        put_line(i, q, {ens.n_outputs}u);\n    }}\n    out_done();\n}}\n")
    host = header.replace("#include <avr/pgmspace.h>", _HOST_PGMSPACE)
    assert host != header
    for target, text in (("avr", header), ("host", host)):
        with tempfile.TemporaryDirectory() as tmp:
            got = _lines(execute(target, build(target, text + run, Path(tmp))), n)
        np.testing.assert_array_equal(got, want, err_msg=target)
    result = run_model(ens, X, "avr", "table", point=Point(Layout.TABLE, stored=stored))
    pred, values = expected(ens, X)
    np.testing.assert_array_equal(result.predict, pred)
    np.testing.assert_allclose(result.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)


def test_int16_table_builds_add_records_in_assembly():
    """int16 features (the half-word walk's integer records) on the ATmega328P: the speed
    table build takes the leaf records and the assembly, and predicts as the interpreter
    does."""
    require_tool("avr-gcc", "simavr")
    from emlc.api import declare_input

    ens, X = _forest(10)
    ens = declare_input(ens, "int16")
    code = emit_c(ens, "atmega328p", "m", "table")
    assert "m_lrec" in code and "m_qadd_asm(q + o" in code and "m_nodes" in code and "const int16_t *features" in code
    result = run_model(ens, X, "atmega328p", "table")
    pred, values = expected(ens, X)
    np.testing.assert_array_equal(result.predict, pred)
    np.testing.assert_allclose(result.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)
