"""The C backend's bulk text builders print exactly what their one-at-a-time forms print."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.c.common import (
    FlashTables,
    int_literal,
    int_literal_formats,
    int_range,
)
from emlc.backends.c.model import Model
from emlc.backends.c.numeric import key_limit
from emlc.backends.c.plan import Layout, make_plan
from emlc.backends.c.inline_text import direct_condition_fn
from emlc.backends.c.walk_inline_bulk import Columns as _Columns
from emlc.backends.c.walk_inline_bulk import condition_texts as _condition_texts
from emlc.ir import Ensemble, Op, Task, Tree
from emlc.targets import get_target

CTYPES = ["int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "int64_t"]


@pytest.mark.parametrize("ctype", CTYPES)
def test_int_literal_formats_print_what_int_literal_prints(ctype):
    lo, hi = int_range(ctype)
    edges = [lo, lo + 1, -32769, -32768, -32767, -1, 0, 1, 32767, 32768, 65535, 2**31 - 1, hi - 1, hi]
    rng = np.random.default_rng(0)
    values = np.array([v for v in edges if lo <= v <= hi] + rng.integers(lo, hi, 200, endpoint=True).tolist())
    kind, formats, own = int_literal_formats(values, ctype)
    for v, k, o in zip(values.tolist(), kind.tolist(), own.tolist()):
        if o:
            assert v == lo  # only a type's minimum needs int_literal's own spelling
        else:
            assert formats[k] % v == int_literal(v, ctype)
    assert bool(own[0]) == (ctype in ("int32_t", "int64_t"))
    if hi < 2**63 - 1:
        with pytest.raises(AssertionError):
            int_literal_formats(np.array([0, hi + 1]), ctype)


def _model(input_type: str, target: str) -> Model:
    tree = Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[0.5, 0, 0],
                      left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1])
    ens = Ensemble(n_features=40, task=Task.REGRESSION, trees=(tree,), tree_output=np.zeros(1, np.int32),
                   leaves=np.array([[0.0], [1.0]]), n_outputs=1, base_score=np.zeros(1), input_type=input_type)
    tgt = get_target(target)
    model = Model(ens, tgt, "m", make_plan(ens, tgt, Layout.INLINE))
    assert model.direct
    return model


def _keys(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Key thresholds of unfolded tests: the range's edges, literal-suffix edges and any in between."""
    edges = [lo - 1, lo, lo + 1, -32769, -32768, -32767, -1, 0, 1, 32767, 32768, hi - 1, hi]
    return st.one_of(st.sampled_from([e for e in edges if lo - 1 <= e <= hi]), st.integers(lo - 1, hi))


@settings(max_examples=40)
@given(st.data(), st.sampled_from([("float32", "host"), ("float32", "avr"), ("int16", "host"), ("uint8", "host"),
                                   ("int32", "host"), ("int8", "rv32ec")]))
def test_conditions_printed_in_bulk_are_the_one_by_one_conditions(data, case):
    """Grouped %-formats (feature, form, literal suffix, enclosing line) give each node the
    text direct_condition_fn gives it, NaN-only and minimum-literal tests included."""
    model = _model(*case)
    lo, hi = model.base_range
    n = data.draw(st.integers(1, 60))
    f = np.array(data.draw(st.lists(st.integers(0, 39), min_size=n, max_size=n)))
    k = np.array(data.draw(st.lists(_keys(lo, hi), min_size=n, max_size=n)), dtype=np.int64)
    nl = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if not model.nan:  # integer tests are folded unless lo <= k < hi
        k = np.clip(k, lo, hi - 1)
    else:  # folded: k >= hi with NaN left, k < lo with NaN right
        keep = ~(((k >= hi) & nl) | ((k < lo) & ~nl))
        f, k, nl = f[keep], k[keep], nl[keep]
    outer = ["%s", "    if (%s) {", "        if (%s) {"]
    outer_of = np.array(data.draw(st.lists(st.integers(0, 2), min_size=f.size, max_size=f.size)), dtype=np.int64)
    cols = _Columns(np.full(f.size, Op.LE, dtype=np.int8), np.zeros(f.size), f, nl)
    got = _condition_texts(model, cols, k, np.arange(f.size), outer, outer_of)
    fn = direct_condition_fn(model)
    want = [outer[o] % fn(a, b, c) for o, a, b, c in zip(outer_of.tolist(), f.tolist(), k.tolist(), nl.tolist())]
    assert got == want


def test_float_key_limit_is_the_range_the_bulk_builder_assumes():
    model = _model("float32", "host")
    assert model.base_range == (-key_limit("float32"), key_limit("float32"))


@settings(max_examples=30)
@given(st.lists(st.tuples(st.text(alphabet="ab{};\n ", max_size=6), st.integers(0, 999),
                          st.sampled_from(["row", "r", "rows[t]"])), max_size=8),
       st.text(alphabet="xy}\n", max_size=5))
def test_sinks_are_filled_where_their_placeholders_stand(parts, tail):
    model = _model("float32", "host")
    body = "".join(text + model.sink(str(t), row) for text, t, row in parts) + tail
    statement = lambda t, row: f"add({t}, {row});"
    want = "".join(text + statement(str(t), row) for text, t, row in parts) + tail
    assert Model.fill_sinks(body, statement) == want
    assert "".join(Model.sink_pieces(body, statement)) == want


def test_double_tables_print_every_value_as_its_repr():
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(size=40) * 10.0 ** rng.integers(-300, 300, 40),
                             [0.0, -0.0, 5e-324, -1.7976931348623157e308, 1e16, 1e-5, 0.1, 1.0, 123456.0]])
    tables = FlashTables("m", get_target("host"))
    tables.add("vals", "double", values, per_line=7)
    body = tables.decls[0].split("{\n    ", 1)[1].rsplit("\n};", 1)[0]
    lines = body.split(",\n    ")
    assert [len(line.split(", ")) for line in lines[:-1]] == [7] * (len(lines) - 1)
    items = body.replace(",\n    ", ", ").split(", ")
    assert items == [repr(v) for v in values.tolist()]
    assert [float(i) for i in items] == values.tolist()
    assert [np.signbit(float(i)) for i in items] == np.signbit(values).tolist()
