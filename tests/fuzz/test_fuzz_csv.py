"""Damaged runtime CSVs: the MicroPython loader (run under CPython) loads them or raises ValueError.

``emlc_trees.load`` is the device's only line of defence against a bad file on flash,
so any other exception (IndexError, TypeError, ...) or a model that then crashes on
``predict`` is a bug; its documented failure is ``ValueError("line N: ...")``.
"""

from __future__ import annotations

import io
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import corpus
from tests.fuzz.check import time_limit
from tests.fuzz.mutate import damaged_bytes
from tests.fuzz.runtime import emlc_trees


def _load_or_value_error(text: str):
    try:
        return emlc_trees().load(io.StringIO(text))
    except ValueError as exc:
        assert str(exc).startswith("line "), str(exc)
        return None


def test_seed_csvs_load_and_predict():
    files = corpus.csv_files()
    assert any(n.endswith("_emlearn.csv") for n in files) and any(n.endswith("_emlc.csv") for n in files)
    for name, data in files.items():
        model = _load_or_value_error(data.decode())
        assert model is not None, name
        model.predict([0.0, 1.0, 2.0])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_damaged_csv_loads_or_raises_value_error(data):
    files = corpus.csv_files()
    name = data.draw(st.sampled_from(sorted(files)))
    blob = data.draw(damaged_bytes(files[name]))
    text = blob.decode("utf-8", "replace")
    with time_limit():
        model = _load_or_value_error(text)
        if model is not None:
            for row in ([0.0, 0.0, 0.0], [math.nan, 1.5, -2.0], [1e30, -1e30, 7.0]):
                model.predict(row)
