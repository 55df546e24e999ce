"""The command line: options documented, user mistakes as one line with exit code 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emlc.cli import build_parser, main
from tests.ir.test_text import IRIS_LIKE


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emlc.cli", *args], capture_output=True, text=True)


def test_help_documents_every_option():
    parser = build_parser()
    text = parser.format_help()
    for action in parser._actions:
        for flag in action.option_strings:
            assert flag in text
        if action.option_strings and action.help != "==SUPPRESS==":
            assert action.help, f"{action.option_strings} has no help text"


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("emlc ")


def test_broken_ir_is_one_line_with_line_and_column(tmp_path):
    bad = tmp_path / "broken.emlir"
    bad.write_text(IRIS_LIKE.replace("nodes 5", "nodez 5"))
    r = run_cli(str(bad), "--emit", "ir", "-o", "-")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("emlc: error: ")
    assert "broken.emlir: line 18, column 17" in lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.json"], "missing.json"),
        (["{model}", "--emit", "wasm"], "invalid choice: 'wasm'"),
        (["{model}", "--input", "int12"], "invalid choice: 'int12'"),
        (["{model}", "-O3"], "unrecognized arguments: -O3"),
    ],
)
def test_user_mistakes_exit_1_with_one_line(tmp_path, args, message):
    model = tmp_path / "iris.emlir"
    model.write_text(IRIS_LIKE)
    r = run_cli(*[a.format(model=model) for a in args])
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emlc: error: "), r.stderr
    assert message in lines[0]


def test_emit_ir_round_trips_through_the_cli(tmp_path, capsys):
    model = tmp_path / "iris.emlir"
    model.write_text(IRIS_LIKE)
    assert main([str(model), "-O0", "--emit", "ir", "-o", "-"]) == 0
    assert capsys.readouterr().out == IRIS_LIKE


def test_default_output_is_named_after_the_model(tmp_path, monkeypatch):
    model = tmp_path / "iris.emlir"
    model.write_text(IRIS_LIKE)
    monkeypatch.chdir(tmp_path)
    assert main([str(model), "-O0", "--emit", "ir"]) == 0
    assert (tmp_path / "iris.emlir").read_text() == IRIS_LIKE


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    import numpy as np
    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    d = tmp_path_factory.mktemp("digits")
    X, y = load_digits(return_X_y=True)
    model = RandomForestClassifier(n_estimators=6, max_depth=6, random_state=0).fit(X[200:], y[200:])
    sio.dump(model, d / "digits.skops")
    np.savez(d / "cal.npz", X=X[:200], y=y[:200])
    return d


def test_float32_sums_is_an_explicit_lossy_opt_out(digits_files, tmp_path):
    """AVR builds of a float64-summing forest decide near-ties in binary64 and say so in
    --report-json; --float32-sums drops that step (header note, no soft-float code)."""
    import json

    for extra, soft in (([], True), (["--float32-sums"], False)):
        out, rep = tmp_path / "m.h", tmp_path / "r.json"
        assert main([str(digits_files / "digits.skops"), "--target", "avr", "-o", str(out),
                     "--report-json", str(rep), *extra]) == 0
        code = out.read_text()
        assert ("model_soft(" in code) is soft
        assert ("near-ties may differ from float64 (--float32-sums)" in code) is not soft
        assert (json.loads(rep.read_text())["size"]["soft_float64_code_bytes_estimate"] > 0) is soft


def test_lossy_build_reports_its_measured_cost(digits_files):
    d = digits_files
    r = run_cli(str(d / "digits.skops"), "--target", "avr", "--leaves-per-class", "2",
                "--calibration", str(d / "cal.npz"), "-o", str(d / "m.h"), "--report-json", "-")
    assert r.returncode == 0, r.stderr
    import json

    report = json.loads(r.stdout)
    assert report["lossy"]["after"]["bytes"] < report["lossy"]["before"]["bytes"]
    assert 0.5 < report["lossy"]["after"]["agreement"] <= 1.0
    assert "model_predict" in (d / "m.h").read_text()


def test_report_says_when_a_lossy_exit_is_left_out(digits_files, capsys):
    """AVR inline (class sums in registers): --early-exit would cost more than it saves, so
    the build leaves it out of the IR and --report says so; so does the table layout, whose
    leaf records its band check would take away; the Cortex-M0's table keeps it (its
    float64 sums are the library's: the IR's own check)."""
    d = digits_files
    for target, layout, left_out in (("avr", "inline", True), ("avr", "table", True), ("cortex-m0", "table", False)):
        out = d / f"exit_{target}_{layout}.h"
        assert main([str(d / "digits.skops"), "--target", target, "--layout", layout, "--early-exit", "0.5",
                     "-o", str(out), "--report"]) == 0
        report = capsys.readouterr()
        assert ("early exit left out" in report.out + report.err) is left_out
        assert ("leaf records" in report.out + report.err) is (layout == "table" and left_out)
        assert ("confidence 0.5" in out.read_text()) is not left_out


def test_budget_search_stays_within_budget_and_plots(digits_files):
    d = digits_files
    r = run_cli(str(d / "digits.skops"), "--target", "avr", "--max-accuracy-drop", "1",
                "--calibration", str(d / "cal.npz"), "-o", str(d / "b.h"), "--plot", str(d / "curve.png"),
                "--report-json", "-")
    assert r.returncode == 0, r.stderr
    import json

    budget = json.loads(r.stdout)["budget"]
    chosen = [row for row in budget["rows"] if row["setting"] == budget["chosen"]]
    assert chosen and chosen[0]["drop"] <= 0.01
    assert "emlc: searching" in r.stderr
    assert (d / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-accuracy-drop", "1"], "needs calibration data"),
        (["--plot", "x.png", "--hard-vote"], "add --max-accuracy-drop"),
        (["--early-exit", "1.5"], "must be in (0, 1]"),
        (["--leaf-bits", "3"], "invalid choice: 3"),
        (["--hard-vote", "--passes", "prune_dead"], "--passes cannot be combined"),
    ],
)
def test_lossy_option_mistakes(digits_files, args, message):
    r = run_cli(str(digits_files / "digits.skops"), "-o", os.devnull, *args)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("emlc: error: ") and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_targets_lists_every_target_with_limits():
    from emlc.targets import TARGETS

    r = run_cli("targets")
    assert r.returncode == 0
    for name in TARGETS:
        assert f"\n{name} " in "\n" + r.stdout
    assert "16 KiB" in r.stdout and "2 KiB" in r.stdout  # rv32ec flash and RAM


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    import joblib
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    d = tmp_path_factory.mktemp("models")
    X, y = load_iris(return_X_y=True)
    joblib.dump(RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y), d / "rf.joblib")
    joblib.dump(LogisticRegression(max_iter=200).fit(X, y), d / "linear.joblib")
    big = RandomForestClassifier(n_estimators=300, random_state=0).fit(X, y)
    joblib.dump(big, d / "big.joblib")
    np.save(d / "wrong_width.npy", np.zeros((5, 7)))
    import lightgbm

    lightgbm.LGBMRegressor(n_estimators=3, verbose=-1).fit(X, y).booster_.save_model(d / "lgb.txt")
    return d


@pytest.mark.parametrize("args, c_type, line", [
    ((), "float", "Inputs: float features; exact for every float32 value"),
    (("--input", "float64"), "double", "Inputs: double features, compared in float64 exactly as the library"),
])
def test_report_and_header_say_the_input_type(model_files, tmp_path, args, c_type, line):
    """A device build of a LightGBM model takes float32 unless --input float64 says otherwise."""
    header = tmp_path / "m.h"
    r = run_cli(str(model_files / "lgb.txt"), "--target", "cortex-m0", "--report", *args, "-o", str(header))
    assert r.returncode == 0, r.stderr
    assert line in r.stdout + r.stderr
    assert f"const {c_type} *features" in header.read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["{d}/rf.joblib"], "refusing to load pickle"),
        (["{d}/rf.joblib"], "if you trust it, pass --trust-pickle, or save the model with skops"),
        (["{d}/rf.joblib", "--trust-pickle", "--target", "pdp11"], "unknown target 'pdp11'"),
        (["{d}/linear.joblib", "--trust-pickle"], "LogisticRegression"),
        (["{d}/rf.joblib", "--trust-pickle", "--name", "int"], "--name"),
        (["{d}/rf.joblib", "--trust-pickle", "--name", "my-model"], "C identifier"),
        (["{d}/big.joblib", "--trust-pickle", "--target", "rv32ec"], "does not fit"),
        (["{d}/rf.joblib", "--trust-pickle", "--hard-vote", "--calibration", "{d}/wrong_width.npy"], "has 7 feature columns but the model takes 4"),
        (["{d}/lgb.txt", "--target", "avr", "--input", "float64"], "avr's double is 32-bit; use --input float32"),
        (["{d}/lgb.txt", "--target", "mcs51", "--input", "float64"], "mcs51's double is 32-bit; use --input float32"),
        (["{d}/rf.joblib", "--trust-pickle", "--input", "float64"], "compares float32 features"),
    ],
)
def test_each_user_error_is_one_line_with_the_fix(model_files, args, message):
    r = run_cli(*[a.format(d=model_files) for a in args], "-o", os.devnull)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emlc: error: "), r.stderr
    assert message in lines[0]


def test_internal_errors_exit_2_with_a_bug_report_hint(monkeypatch, capsys, tmp_path):
    import emlc.api

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(emlc.api, "compile", broken)
    model = tmp_path / "iris.emlir"
    model.write_text(IRIS_LIKE)
    assert main([str(model)]) == 2
    assert "emlc: internal error:" in capsys.readouterr().err


def test_csv_flavors(tmp_path):
    model = Path(__file__).resolve().parents[1] / "examples" / "models" / "iris_xgb.json"
    r = run_cli(str(model), "--emit", "csv", "-o", str(tmp_path / "auto.csv"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "auto.csv").read_text().startswith("emlc-trees,")
    r = run_cli(str(model), "--emit", "csv", "--csv-flavor", "emlearn", "-o", str(tmp_path / "e.csv"))
    assert r.returncode == 1 and r.stderr.startswith("emlc: error: ")
    assert "--csv-flavor emlc" in r.stderr
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    sio.dump(DecisionTreeClassifier(random_state=0).fit(X * 10, y), tmp_path / "tree.skops")
    r = run_cli(str(tmp_path / "tree.skops"), "--emit", "csv", "--input", "int16", "--csv-flavor", "emlearn",
                "-o", str(tmp_path / "i.csv"))
    assert r.returncode == 0, r.stderr
    assert "\nlf," in (tmp_path / "i.csv").read_text()


def test_exact_build_reports_agreement_on_calibration_data(digits_files):
    import json

    d = digits_files
    r = run_cli(str(d / "digits.skops"), "--target", "avr", "-O2", "--calibration", str(d / "cal.npz"),
                "-o", os.devnull, "--report-json", "-")
    assert r.returncode == 0, r.stderr
    calibration = json.loads(r.stdout)["calibration"]
    assert calibration["agreement"] == 1.0  # lossless passes: every row agrees
    assert 0.5 < calibration["accuracy"] <= 1.0
    assert calibration["mean_trees"] < 6  # -O2's exact early exit stops some rows early
