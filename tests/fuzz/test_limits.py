"""The shared input bounds: JSON depth scanning agrees with a real parse, limits refuse cleanly."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.errors import EmlcError
from emlc.limits import MAX_JSON_DEPTH, check_count, json_depth, load_json, read_bytes

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(alphabet='[]{}"\\ab\n'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\k'), inner, max_size=3),
    max_leaves=20,
)


def _depth(value) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (list, dict)):
            deepest = max(deepest, level + 1)
            stack.extend((v, level + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


@settings(max_examples=60)
@given(_json_values)
def test_json_depth_matches_parsed_structure(value):
    text = json.dumps(value)
    assert json_depth(text) == _depth(value)
    assert json_depth(text.encode()) == _depth(value)


@pytest.mark.parametrize("opener", ["[", '{"a":', '[{"k":'])
def test_deep_nesting_is_refused_without_recursion_error(opener):
    with pytest.raises(EmlcError, match=f"nested .* more than the {MAX_JSON_DEPTH}"):
        load_json(opener * 100_000, "deep.json")


def test_nesting_at_the_limit_still_parses():
    assert _depth(load_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "ok.json")) == MAX_JSON_DEPTH


@pytest.mark.parametrize("text", ["", "{", '{"a": 1,}', "\xff", '{"a": 1} x', "[" * 10])
def test_invalid_json_is_an_emlc_error(text):
    with pytest.raises(EmlcError, match="bad.json"):
        load_json(text, "bad.json")


@pytest.mark.parametrize("value", [-1, 11, 1.5, "x", None, float("inf"), float("nan"), "1e999"])
def test_check_count_refuses_out_of_range_and_non_integers(value):
    with pytest.raises(EmlcError, match="num_leaves"):
        check_count(value, 10, "num_leaves", "m.txt")


def test_check_count_accepts_whole_numbers_in_range():
    assert check_count("7", 10, "n", "m") == 7
    assert check_count(10.0, 10, "n", "m") == 10


def test_read_bytes_names_missing_file(tmp_path):
    with pytest.raises(EmlcError, match="cannot read model file"):
        read_bytes(tmp_path / "nope.json")
