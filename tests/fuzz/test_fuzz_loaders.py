"""Damaged model files of every format either load into verified IR or fail with EmlcError.

Never another exception type, never a hang, never a RecursionError: each example
runs under a time limit and every exception other than EmlcError fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import corpus
from tests.fuzz.check import cli_refuses_or_compiles, load_or_refuse
from tests.fuzz.mutate import damaged_bytes, damaged_json

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def _seeds(files: dict[str, bytes], *suffixes: str) -> list[str]:
    return sorted(name for name in files if Path(name).suffix in suffixes)


def _all_files() -> dict[str, bytes]:
    return {**corpus.xgboost_files(), **corpus.lightgbm_files(), **corpus.ir_texts()}


@pytest.mark.parametrize("name", ["xgb_binary.json", "xgb_softprob.ubj", "xgb_catreg.json", "lgb_binary.txt", "lgb_multi.json", "lgb_binary_txt.emlir"])
def test_seed_files_load(name):
    assert load_or_refuse(_all_files()[name], name) is not None


def _byte_fuzz(files_fn, suffixes):
    @FUZZ
    @given(st.data())
    def check(data):
        files = files_fn()
        name = data.draw(st.sampled_from(_seeds(files, *suffixes)))
        load_or_refuse(data.draw(damaged_bytes(files[name])), name)

    return check


def _json_fuzz(files_fn):
    @FUZZ
    @given(st.data())
    def check(data):
        files = files_fn()
        name = data.draw(st.sampled_from(_seeds(files, ".json")))
        load_or_refuse(data.draw(damaged_json(files[name])), name)

    return check


test_xgboost_json_bytes = _byte_fuzz(corpus.xgboost_files, (".json",))
test_xgboost_ubj_bytes = _byte_fuzz(corpus.xgboost_files, (".ubj",))
test_xgboost_json_structure = _json_fuzz(corpus.xgboost_files)
test_lightgbm_text_bytes = _byte_fuzz(corpus.lightgbm_files, (".txt",))
test_lightgbm_dump_bytes = _byte_fuzz(corpus.lightgbm_files, (".json",))
test_lightgbm_dump_structure = _json_fuzz(corpus.lightgbm_files)
test_ir_text_bytes = _byte_fuzz(corpus.ir_texts, (".emlir",))


@settings(FUZZ, max_examples=15)
@given(st.data())
def test_cli_exit_code_is_0_or_1_on_damaged_files(data):
    files = _all_files()
    name = data.draw(st.sampled_from(sorted(files)))
    cli_refuses_or_compiles(data.draw(damaged_bytes(files[name])), name)
