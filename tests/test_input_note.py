"""`--input int16|int8|uint8` says what it costs: thresholds it touches, predictions truncation changes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import emlc
from emlc.input_note import InputNote, input_note

# Distinct splits: x[0] <= 2.45 (fractional, twice), x[1] < 3.0 (integral),
# x[2] <= 300.5 (fractional; beyond int8's range).
MODEL = """\
emlc-ir 1
model "m"
task classification
features 3 input float32
outputs 3 aggregation mean accum float64
link identity
decision argmax
classes int64 [0, 1, 2]
base 0.0 0.0 0.0
leaves float64 3 x 3
  0: 1.0 0.0 0.0
  1: 0.0 1.0 0.0
  2: 0.0 0.0 1.0
catsets 0 x 1
thresholds float64
tree 0 output 0 nodes 5
  0: if x[0] <= 2.45 then 1 else 2 missing left
  1: leaf 0
  2: if x[1] < 3.0 then 3 else 4 missing right
  3: leaf 1
  4: leaf 2
tree 1 output 0 nodes 5
  0: if x[0] <= 2.45 then 1 else 2 missing left
  1: leaf 2
  2: if x[2] <= 300.5 then 3 else 4 missing left
  3: leaf 1
  4: leaf 0
"""
# Row 0 is fractional and truncation flips its class (2.7 -> 2 crosses 2.45); row 1 is
# fractional and keeps its class; row 2 is integral; row 3 holds NaN (no integer input).
ROWS = np.array([[2.7, 0.0, 0.0], [1.5, 0.0, 0.0], [5.0, 1.0, 0.0], [np.nan, 0.0, 0.0]])


@pytest.fixture(scope="module")
def model():
    return emlc.parse_ir(MODEL)


def test_counts_fractional_and_out_of_range_thresholds(model):
    assert input_note(model, "int8") == InputNote("int8", thresholds=3, fractional=2, out_of_range=1)
    assert input_note(model, "int16") == InputNote("int16", thresholds=3, fractional=2, out_of_range=0)
    assert input_note(model, "float32") is None


def test_integral_in_range_thresholds_cost_nothing(model):
    integral = emlc.parse_ir(MODEL.replace("2.45", "2.0").replace("300.5", "30.0"))
    assert input_note(integral, "int16") is None
    assert input_note(integral, "int16", ROWS[2:3]) is None  # integral rows: nothing to truncate


def test_calibration_agreement_compares_float_model_with_truncated_rows(model):
    note = input_note(model, "int16", ROWS)
    assert (note.rows, note.fractional_rows, note.agreement) == (3, 2, pytest.approx(2 / 3))
    truncated = np.trunc(ROWS[:3])
    expected = emlc.interpret(model, ROWS[:3]) == emlc.interpret(model.replace(input_type="int16"), truncated)
    assert note.agreement == pytest.approx(expected.mean())


def test_text_is_one_line_with_counts_and_meaning(model):
    text = input_note(model, "int8", ROWS).text()
    assert "\n" not in text
    assert text.startswith("2 of 3 thresholds are fractional and 1 of 3 lie outside int8's range [-128, 127]")
    assert "--input int8 compares integer feature values exactly, a fractional device value is truncated first" in text
    assert text.endswith("(2 of 3 rows fractional) truncation changes 1 prediction(s): 66.67% agreement")


def test_compile_exposes_the_note(model):
    built = emlc.compile(model, input_type="int16", calibration=(ROWS, None))
    assert built.input_note == input_note(model, "int16", ROWS)
    assert emlc.compile(model).input_note is None


def test_cli_prints_one_note_line_and_succeeds(tmp_path):
    (tmp_path / "m.emlir").write_text(MODEL)
    np.save(tmp_path / "cal.npy", ROWS)
    r = subprocess.run(
        [sys.executable, "-m", "emlc.cli", "m.emlir", "--input", "int16", "--calibration", "cal.npy",
         "-o", "m.h", "--report-json", "r.json"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f"emlc: note: {input_note(emlc.parse_ir(MODEL), 'int16', ROWS).text()}"]
    assert json.loads((tmp_path / "r.json").read_text())["input_note"]["agreement"] == pytest.approx(2 / 3)
    quiet = subprocess.run([sys.executable, "-m", "emlc.cli", "m.emlir", "-o", "f.h"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stderr == ""
