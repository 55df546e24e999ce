"""Hand-made hostile files: deep nesting, absurd declared counts, oversized files.

Each is refused with an EmlcError naming the problem, quickly and without a
RecursionError or a giant allocation (every load runs under a time limit).
"""

from __future__ import annotations

import json
import re
import struct
import tempfile
from pathlib import Path

import pytest

import emlc
import emlc.limits
from emlc.errors import EmlcError
from tests.fuzz import corpus
from tests.fuzz.check import cli_refuses_or_compiles, load_or_refuse, time_limit

DEEP = 100_000


def _refuses(data: bytes, filename: str, match: str) -> None:
    """The load raises EmlcError whose message matches ``match``; the CLI exits 1."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_bytes(data)
        with time_limit(), pytest.raises(EmlcError, match=match) as info:
            emlc.load(path)
    assert "\n" not in str(info.value)
    assert cli_refuses_or_compiles(data, filename) == 1


@pytest.mark.parametrize("filename", ["deep.json", "deep.txt", "deep.emlir"])
@pytest.mark.parametrize("opener", [b"[", b'{"learner":', b'{"tree_info":[{"tree_structure":'])
def test_deep_nesting(filename, opener):
    data = opener * DEEP
    if filename.endswith(".json"):
        _refuses(data, filename, "nested|not valid JSON")
    else:
        assert load_or_refuse(data, filename) is None


def test_deep_but_well_formed_lightgbm_dump_is_refused_by_depth():
    doc = json.loads(corpus.lightgbm_files()["lgb_binary.json"])
    node = {"leaf_index": 0, "leaf_value": 0.5}
    for _ in range(emlc.limits.MAX_JSON_DEPTH + 100):
        node = {"split_index": 0, "split_feature": 0, "threshold": 0.0, "decision_type": "<=",
                "left_child": node, "right_child": {"leaf_index": 1, "leaf_value": 0.1}}
    doc["tree_info"][0]["tree_structure"] = node
    _refuses(json.dumps(doc).encode(), "deep.json", f"more than the {emlc.limits.MAX_JSON_DEPTH}")


def test_deep_ubjson_is_refused():
    _refuses(b"{" + b"L\x00\x00\x00\x00\x00\x00\x00\x01a[" * 10_000, "deep.ubj", "nesting|XGBoost")


@pytest.mark.parametrize("count", [2**62, 2**31, 10**9])
def test_ubjson_huge_declared_count(count):
    data = b"{L" + struct.pack(">q", 7) + b"learner[$d#L" + struct.pack(">q", count) + b"\x00" * 16 + b"}"
    _refuses(data, "huge.ubj", "cannot fit|XGBoost")


def _sub(data: bytes, pattern: bytes, repl: bytes) -> bytes:
    out, n = re.subn(pattern, repl, data, count=1)
    assert n == 1, pattern
    return out


HUGE_TEXT_COUNTS = [
    ("lgb_binary.txt", rb"num_leaves=4", b"num_leaves=" + b"9" * 12),
    ("lgb_binary.txt", rb"max_feature_idx=2", b"max_feature_idx=999999999999"),
    ("lgb_binary.txt", rb"num_class=1", b"num_class=4000000000"),
    ("lgb_binary.txt", rb"num_tree_per_iteration=1", b"num_tree_per_iteration=100000000000"),
    ("lgb_binary.json", rb'"num_leaves": 4', b'"num_leaves": 10000000000000'),
    ("lgb_binary.json", rb'"max_feature_idx": 2', b'"max_feature_idx": 1e300'),
    ("lgb_binary.json", rb'"num_class": 1', b'"num_class": 4000000000'),
    ("xgb_binary.json", rb'"num_feature":"3"', b'"num_feature":"99999999999999"'),
    ("xgb_softprob.json", rb'"num_class":"3"', b'"num_class":"4000000000"'),
    ("xgb_binary.json", rb'"num_trees":"3"', b'"num_trees":"4000000000"'),
    ("lgb_binary_txt.emlir", rb"features 3", b"features 99999999999"),
    ("lgb_binary_txt.emlir", rb"leaves float64 12 x 1", b"leaves float64 4000000000 x 1"),
    ("lgb_binary_txt.emlir", rb"leaves float64 12 x 1", b"leaves float64 12 x 4000000000"),
    ("lgb_binary_txt.emlir", rb"tree 0 output 0 nodes 7", b"tree 0 output 0 nodes 2000000000"),
    ("lgb_binary_txt.emlir", rb"catsets 1 x 1", b"catsets 1 x 99999999"),
    ("lgb_binary_txt.emlir", rb"outputs 1", b"outputs " + b"7" * 5000),
]


@pytest.mark.parametrize("name,pattern,repl", HUGE_TEXT_COUNTS, ids=[c[2][:30].decode() for c in HUGE_TEXT_COUNTS])
def test_huge_declared_counts_are_refused_or_ignored(name, pattern, repl):
    files = {**corpus.xgboost_files(), **corpus.lightgbm_files(), **corpus.ir_texts()}
    data = _sub(files[name], pattern, repl)
    ens = load_or_refuse(data, name)
    assert ens is None or ens.n_nodes < 1000, "a declared count became a giant model"
    assert cli_refuses_or_compiles(data, name) in (0, 1)


def test_oversized_file_is_refused_before_reading(monkeypatch, tmp_path):
    monkeypatch.setattr(emlc.limits, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 5000 + b"{}")
    with pytest.raises(EmlcError, match="more than the 1,000-byte limit"):
        emlc.load(path)
