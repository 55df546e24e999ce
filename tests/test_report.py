"""`--report`: one name per count, two estimates that say which is which, and the file written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IRIS = str(ROOT / "examples" / "models" / "iris_xgb.json")


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "emlc.cli", IRIS, *args], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def iris_report(tmp_path_factory) -> tuple[str, dict, Path]:
    d = tmp_path_factory.mktemp("report")
    text = _run(d, "-O2", "--target", "avr", "-o", "iris.h", "--report").stderr
    data = json.loads(_run(d, "-O2", "--target", "avr", "-o", "iris.h", "--report-json", "-").stdout)
    return text, data, d / "iris.h"


def test_pass_table_counts_what_the_size_block_counts(iris_report):
    text, data, _ = iris_report
    head = next(line for line in text.splitlines() if line.startswith("pass "))
    assert head.split()[1:3] == ["decision", "nodes"] and "IR estimate B" in head
    last = data["passes"][-1]
    size = data["size"]
    assert last["decision_nodes"][1] == size["decision_nodes"]
    assert last["leaves"][1] == size["leaves"] and last["leaf_rows"][1] == size["leaf_rows"]
    row = next(line for line in text.splitlines() if line.startswith(last["name"]))
    assert re.search(rf"\b{size['decision_nodes']} -> {size['decision_nodes']}\b", row)
    assert re.search(rf"^decision nodes +{size['decision_nodes']}$", text, re.M)
    assert not re.search(r"^\S.*\bnodes\b", text.replace("decision nodes", ""), re.M)  # no unnamed node count


def test_the_two_byte_estimates_are_labelled(iris_report):
    text, data, _ = iris_report
    assert data["passes"][-1]["ir_bytes"][1] != data["size"]["flash_bytes_estimate"]  # why they need labels
    assert "IR estimate: the cost model (emlc/cost.py) with tables estimated from the IR" in text
    assert "size (C backend estimate)" in text
    assert re.search(rf"^flash \(data \+ code\) +{data['size']['flash_bytes_estimate']} B of 262144 B$", text, re.M)


def test_report_ends_with_the_file_written(iris_report):
    text, data, header = iris_report
    size = header.stat().st_size
    assert text.rstrip().splitlines()[-1] == f"wrote iris.h (a {size}-byte file)"
    assert data["output"] == {"path": "iris.h", "bytes": size}


def test_report_to_stdout_says_so(tmp_path):
    r = _run(tmp_path, "--emit", "ir", "-o", "-", "--report")
    assert r.stderr.rstrip().splitlines()[-1] == f"wrote {len(r.stdout.encode())} bytes to stdout"
