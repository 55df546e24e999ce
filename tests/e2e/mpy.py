"""Run code in real MicroPython (the npm WebAssembly build) from tests and benchmarks.

One Node.js process per call: the files are written into MicroPython's working
folder and the program runs there, so batch many rows into one call (start-up costs
about half a second).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("mpy_driver.mjs")
PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
INSTALL = "npm ci (in the repository root)"


class MicroPythonError(Exception):
    """The MicroPython program raised; the message is its traceback."""


def require_micropython() -> None:
    """Skip without node or the npm package, fail under CI where both must exist."""
    require_tool("node")
    if not (PACKAGE / "micropython.mjs").is_file():
        msg = f"npm package @micropython/micropython-webassembly-pyscript is missing: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def run_micropython(program: str, files: dict[str, str] | None = None, timeout: float = 300) -> str:
    """stdout of ``program`` run by MicroPython with ``files`` in its working folder."""
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node is not installed")
    job = json.dumps({"files": files or {}, "program": program})
    proc = subprocess.run(
        [node, str(DRIVER)], input=job, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    if proc.returncode != 0:
        raise MicroPythonError(proc.stderr.strip() or f"node exited with {proc.returncode}")
    return proc.stdout


def rows_text(X) -> str:
    """Rows as CSV lines MicroPython parses exactly (ints stay ints, floats by repr)."""
    import numpy as np

    X = np.asarray(X)
    if X.dtype.kind in "iu":
        return "\n".join(",".join(str(int(v)) for v in row) for row in X) + "\n"
    return "\n".join(",".join(repr(float(v)) for v in row) for row in X) + "\n"


_PREDICT_LOOP = """
def _run(model, rows, integer, proba):
    conv = int if integer else float
    for line in open(rows):
        line = line.strip()
        if not line:
            continue
        x = [conv(v) for v in line.split(',')]
        print(repr(model.predict(x)) + '|' + (repr(model.predict_proba(x)) if proba else ''))
"""


def predict_batch(cases: list[dict], files: dict[str, str]) -> list[tuple[list, list | None]]:
    """Run many models in one MicroPython process.

    Each case has ``setup`` (code binding ``model``), ``rows`` (CSV text),
    ``integer`` and ``proba`` flags; returns (predictions, probabilities or None) per case.
    """
    parts = [_PREDICT_LOOP]
    files = dict(files)
    for k, case in enumerate(cases):
        files[f"rows{k}.txt"] = case["rows"]
        parts.append(f"print('#case')\n{case['setup']}\n_run(model, 'rows{k}.txt', {case['integer']}, {case['proba']})")
    out = run_micropython("\n".join(parts), files)
    env = {"nan": float("nan"), "inf": float("inf")}
    results = []
    for block in out.split("#case\n")[1:]:
        preds, probas = [], []
        for line in block.splitlines():
            pred, _, proba = line.partition("|")
            preds.append(eval(pred, env))
            probas.append(eval(proba, env) if proba else None)
        results.append((preds, probas if probas and probas[0] is not None else None))
    if len(results) != len(cases):
        raise MicroPythonError(f"expected {len(cases)} result blocks, got {len(results)}:\n{out[-2000:]}")
    return results
