"""Leaf records (-Os table builds of count leaves): the multiplier rule, the C value of a
count, the bytes a record holds, and builds that use them agreeing with the interpreter."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c, leaf_records, leaf_tables
from emlc.backends.c.leaf_records import FAST_C, MAX_MULTIPLIER, LeafRecords, multiplier, scaled
from emlc.backends.c.plan import Layout, make_plan
from emlc.backends.fixed_point import leaf_error
from emlc.ir.interpret import leaf_indices
from emlc.targets import get_target
from tests.backends.c.test_emit import check_agrees, expected
from tests.backends.c.test_fixed import _decided_equal
from tests.conftest import require_tool
from tests.e2e.harness import run_parallel


def _forest(trees: int = 6, depth: int = 5):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    clf = RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=0).fit(X[:600], y[:600])
    return emlc.load(clf), X[600:].astype(np.float32)


def _plan(ens, target: str = "avr"):
    return make_plan(ens, get_target(target), Layout.TABLE, pack_tables=True)


def test_the_c_value_of_a_count_is_scaled_for_every_count_and_multiplier(tmp_path):
    """FAST_C, compiled, equals :func:`scaled` for every count byte and every multiplier
    (per count: the sum of the values and of value * m mod 2^32 over all m)."""
    require_tool("gcc")
    src = ("#include <stdint.h>\n#include <stdio.h>\nint main(void)\n{\n    unsigned i;\n"
           "    for (i = 0; i < 256u; ++i) {\n        uint8_t c = (uint8_t)i;\n        uint32_t m, sum = 0, mix = 0;\n"
           f"        for (m = 0; m <= {MAX_MULTIPLIER}u; ++m) {{\n"
           "            uint8_t ml = (uint8_t)(m & 255u), mh = (uint8_t)(m >> 8);\n"
           f"            uint32_t v = {FAST_C};\n"
           "            sum += v;\n            mix += v * m;\n        }\n"
           "        printf(\"%lu %lu\\n\", (unsigned long)sum, (unsigned long)mix);\n    }\n    return 0;\n}\n")
    (tmp_path / "f.c").write_text(src)
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "f.c", "-o", "f"],
                   cwd=tmp_path, check=True)
    out = subprocess.run([str(tmp_path / "f")], check=True, capture_output=True, text=True).stdout.split()
    got = np.array(out, dtype=np.uint64).reshape(256, 2)
    m = np.arange(MAX_MULTIPLIER + 1, dtype=np.uint64)
    for c in range(256):
        v = scaled(np.uint64(c), m)
        assert got[c, 0] == int(v.sum()) % 2**32 and got[c, 1] == int((v * m).sum()) % 2**32, c


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 255), min_size=1, max_size=10), st.integers(3, 7))
def test_a_multiplier_gives_the_rounded_values_whenever_one_does(counts, bits):
    """Brute force over every two-byte multiplier: :func:`multiplier` reproduces
    round(scale count / total) for the whole row exactly when some multiplier does."""
    scale = float(1 << bits)
    total = sum(counts)
    want = np.rint(scale * np.array(counts, dtype=np.float64) / total).astype(np.int64)
    m = np.arange(MAX_MULTIPLIER + 1, dtype=np.int64)
    exists = np.all([scaled(c, m) == w for c, w in zip(counts, want.tolist())], axis=0).any()
    got = multiplier(counts, want.tolist(), scale)
    assert 0 <= got <= MAX_MULTIPLIER
    assert [scaled(c, got) for c in counts] == want.tolist() if exists else True
    assert exists or [scaled(c, got) for c in counts] != want.tolist()


def _decode(rec: LeafRecords, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(counts, multipliers) read back from the record bytes as the C code reads them."""
    data = rec.data.tolist()
    counts = np.zeros((rec.offsets.size, width), dtype=np.int64)
    mults = np.zeros(rec.offsets.size, dtype=np.int64)
    for r, at in enumerate(rec.offsets.tolist()):
        mask = sum(data[at + b] << (8 * b) for b in range(rec.mask_bytes))
        if rec.fast is not None:
            mults[r] = data[at + rec.mask_bytes] | data[at + rec.mask_bytes + 1] << 8
        e = at + rec.header_bytes
        for j in range(width):
            if mask >> j & 1:
                counts[r, j] = data[e]
                e += 1
    return counts, mults


def test_records_hold_the_counts_and_the_plan_adds_their_scaled_values():
    """The bytes give back every row's counts; the plan's fixed-point leaves are the
    values the C code computes from them (scaled), its margin counts their largest error,
    and the records replace lstart, lcol, lcount and qval in the -Os header."""
    ens, X = _forest()
    plan = _plan(ens)
    rec = plan.records
    assert rec is not None and plan.fixed is not None and rec.fast is not None
    counts, mults = _decode(rec, ens.leaf_width)
    np.testing.assert_array_equal(counts, leaf_tables.rational_counts(ens, "float"))
    np.testing.assert_array_equal(plan.fixed.leaves, scaled(counts, mults[:, None]))
    np.testing.assert_array_equal(rec.fast, plan.fixed.leaves)
    delta = leaf_error(ens, plan.fixed.scale, plan.fixed.leaves)
    nmax = ens.n_trees
    assert plan.fixed.margin >= 2 * nmax * delta + 1
    assert _decided_equal(ens, X, "avr", fx=plan.fixed) > 0.9 * X.shape[0]
    code = emit_c(ens, "avr", "m", "table", speed=False)
    assert "m_lrec" in code and plan.numbers.row_t == rec.offset_t
    assert not any(f"m_{t}[" in code for t in ("lstart", "lcol", "lcount", "qval", "lbase"))
    speed = emit_c(ens, "avr", "m", "table")  # AVR's speed levels add records in assembly
    assert "m_lrec" in speed and "m_qadd_asm" in speed and "m_qval" not in speed
    assert "m_lrec" not in emit_c(ens, "cortex-m0", "m", "table") and "m_qval" in emit_c(ens, "cortex-m0", "m", "table")


def test_records_only_where_they_are_smaller():
    """A row of many columns with one count each: a mask and a multiplier per row cost
    more than a column byte per entry, and the build keeps the sparse tables."""
    counts = np.eye(16, dtype=np.int64)
    rec = leaf_records.encode(counts, counts * 128, 128.0)
    assert rec is not None and rec.data.size == 16 * 5
    assert rec.data.size >= leaf_records.sparse_bytes(counts, True)
    wide = leaf_records.encode(np.ones((2, 17), dtype=np.int64), None, None)
    assert wide is None


def test_fast_sums_of_the_c_code_equal_the_plans(tmp_path):
    """P_qadd of the built -Os header, over the rows P_rows records, gives the plan's
    integer sums on every row (host: the sums P_fast decides from)."""
    require_tool("gcc")
    ens, X = _forest()
    X = X[:200]
    plan = _plan(ens, "host")
    assert plan.records is not None and plan.fixed is not None
    want = plan.fixed.init + plan.fixed.leaves[leaf_indices(ens, X)].sum(axis=1)
    header = emit_c(ens, "host", "m", "table", speed=False)
    at = plan.fixed.acc_t
    rows = ",\n".join("{" + ", ".join(repr(float(v)) + "f" for v in row) + "}" for row in X)
    src = (header + f"\n#include <stdio.h>\nstatic const float X[{X.shape[0]}][{ens.n_features}] = {{\n{rows}\n}};\n"
           "int main(void)\n{\n    unsigned i, k, t;\n"
           f"    for (i = 0; i < {X.shape[0]}u; ++i) {{\n        {plan.numbers.row_t} r[{ens.n_trees}];\n"
           f"        {at} q[{ens.n_outputs}] = {{0}};\n        m_rows(X[i], r);\n"
           f"        for (t = 0; t < {ens.n_trees}u; ++t) {{\n            m_qadd(q, 0u, r[t]);\n        }}\n"
           f"        for (k = 0; k < {ens.n_outputs}u; ++k) {{\n            printf(\"%ld \", (long)q[k]);\n        }}\n"
           "        printf(\"\\n\");\n    }\n    return 0;\n}\n")
    (tmp_path / "s.c").write_text(src)
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "s.c", "-o", "s"],
                   cwd=tmp_path, check=True)
    out = subprocess.run([str(tmp_path / "s")], check=True, capture_output=True, text=True).stdout
    got = np.array([line.split() for line in out.splitlines()], dtype=np.int64)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("depth", [5, 8])
def test_record_builds_agree_with_the_interpreter_on_host_and_avr(depth):
    """-Os table builds with leaf records predict as the interpreter does; on AVR (float
    sums, binary64 near-ties) the probabilities are the float leaf table's own."""
    require_tool("gcc")
    require_tool("avr-gcc", "simavr")
    ens, X = _forest(4, depth)
    X = X[:80]
    assert _plan(ens).records is not None
    check_agrees(ens, X, "table", speed=False)
    got, floats = run_parallel([(ens, X, "avr", "table", {"speed": False}), (ens, X, "avr", "inline")], workers=2)
    np.testing.assert_array_equal(got.predict, expected(ens, X)[0])
    np.testing.assert_array_equal(got.values, floats.values)


@pytest.mark.parametrize("target", ["cortex-m0", "rv32ec", "mcs51"])
def test_record_builds_run_on_devices(target):
    """An -Os table build with leaf records (a small iris forest: it fits the 8051) on the
    devices' compilers, with the strict flags, and simulators."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    import emlc
    from tests.e2e.harness import TOOLS, run_model

    require_tool(*TOOLS[target])
    X, y = load_iris(return_X_y=True)
    ens = emlc.load(RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y))
    X = X[::6].astype(np.float32)
    assert _plan(ens, target).records is not None
    got = run_model(ens, X, target, "table", speed=False)
    want, values = expected(ens, X)
    np.testing.assert_array_equal(got.predict, want)
    np.testing.assert_allclose(got.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)


def _quantized(signed: bool):
    """Integer leaves on one grid (the lossy --leaf-bits pass) of a forest: nonnegative,
    or shifted to int8 (negative values, zeros kept)."""
    from emlc.passes.lossy import quantize_leaves

    ens, X = _forest()
    ens = quantize_leaves(ens, 8)
    if signed:
        q = np.asarray(ens.leaves, dtype=np.int64)
        ens = ens.replace(leaves=np.where(q != 0, q // 2 - 40, 0).astype(np.int8))
    return ens, X


@pytest.mark.parametrize("signed", [False, True])
def test_integer_leaves_are_records_of_their_own_bytes(signed):
    """Integer leaf tables (uint8, or int8) take records of the leaves themselves, no
    multiplier (an exact plan adds them); the builds agree with the interpreter on host
    and AVR."""
    require_tool("gcc")
    require_tool("avr-gcc", "simavr")
    ens, X = _quantized(signed)
    X = X[:60]
    plan = _plan(ens)
    rec = plan.records
    assert rec is not None and not rec.counts and rec.fast is None and rec.signed == signed
    assert plan.fixed is None or plan.fixed.exact
    values, _ = _decode(rec, ens.leaf_width)
    np.testing.assert_array_equal(np.where(values > 127, values - 256, values) if rec.signed else values, ens.leaves)
    check_agrees(ens, X, "table", speed=False)
    check_agrees(ens, X, "table", "avr", speed=False)
