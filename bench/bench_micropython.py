"""Time per prediction in real MicroPython: emlc's outputs vs everywhereml and m2cgen.

The scikit-learn digits RandomForest (10 trees, depth 6, random_state=0), trained on
the first 1000 rows and asked about the rest, runs in the WebAssembly MicroPython
the tests use (``npm ci`` first). Prints one table: microseconds per prediction,
model file size (source and mpy-cross bytecode), agreement with scikit-learn. Each
entry is warmed up, then timed in interleaved rounds keeping its fastest round.
everywhereml and m2cgen are pip-installed on first use; a peer that cannot be
installed or converted is reported in the table instead of timed.

    python bench/bench_micropython.py [--reps 8]
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import emlc  # noqa: E402
from emlc.backends.micropython import emit_micropython  # noqa: E402
from emlc.backends.micropython.emlc_csv import emit_emlc_csv  # noqa: E402
from emlc.paths import runtime_dir  # noqa: E402
from tests.e2e.mpy import rows_text, run_micropython  # noqa: E402

_TIMER = """
import time
def _argmax(v):
    best = 0
    for j in range(1, len(v)):
        if v[j] > v[best]:
            best = j
    return best
rows = [[float(v) for v in line.split(',')] for line in open('rows.txt') if line.strip()]
def once(predict, passes):
    t0 = time.ticks_ms()
    for _ in range(passes):
        for r in rows:
            predict(r)
    return time.ticks_diff(time.ticks_ms(), t0) * 1000 / (passes * len(rows))
def bench(entries, reps):
    # warm up every entry (WebAssembly tiers up while running), then interleave rounds
    # and keep each entry's fastest: other processes on the machine only add time.
    # This port's clock ticks in whole milliseconds, so a round repeats the rows
    # until it lasts about 200 ms.
    preds = {name: [predict(r) for r in rows] for name, predict in entries}
    passes = {name: max(1, int(200 / (once(predict, 1) * len(rows) / 1000 + 1))) for name, predict in entries}
    best = {name: 1e9 for name, _ in entries}
    for _ in range(reps):
        for name, predict in entries:
            best[name] = min(best[name], once(predict, passes[name]))
    for name, _ in entries:
        print(name, best[name], ','.join(str(p) for p in preds[name]))
"""


def _peer(module: str, pip_name: str) -> tuple[object | None, str]:
    try:
        return importlib.import_module(module), ""
    except ImportError:
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", pip_name], capture_output=True, text=True)
        if proc.returncode != 0:
            return None, f"pip install {pip_name} failed"
        return importlib.import_module(module), ""


def _mpy_size(name: str, source: str) -> str:
    if shutil.which("mpy-cross") is None:
        return "n/a"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / name
        src.write_text(source)
        proc = subprocess.run(["mpy-cross", str(src)], capture_output=True, text=True)
        return str(src.with_suffix(".mpy").stat().st_size) if proc.returncode == 0 else "mpy-cross failed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=8, help="timed rounds per entry")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    rf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X[:1000], y[:1000])
    X_test = X[1000:]
    want = rf.predict(X_test)
    ens = emlc.load(rf)

    files = {
        "rows.txt": rows_text(X_test),
        "emlc_trees.py": (runtime_dir() / "micropython" / "emlc_trees.py").read_text(),
        "digits.csv": emit_emlc_csv(ens),
        "digits_emlc.py": emit_micropython(ens, name="digits"),
    }
    # (label, model file, code that binds `predict`, note)
    entries = [
        ("emlc module (inline)", "digits_emlc.py", "import digits_emlc\npredict = digits_emlc.predict", ""),
        ("emlc runtime + CSV", "digits.csv",
         "import emlc_trees\npredict = emlc_trees.load('digits.csv').predict", ""),
    ]
    everywhereml, note = _peer("everywhereml.sklearn.ensemble", "everywhereml")
    if everywhereml is not None:
        ew = everywhereml.RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X[:1000], y[:1000])
        files["digits_ew.py"] = ew.to_micropython()
        entries.append(("everywhereml", "digits_ew.py",
                        "import digits_ew\npredict = digits_ew.RandomForestClassifier().predict", ""))
    else:
        entries.append(("everywhereml", "", "", note))
    m2cgen, note = _peer("m2cgen", "m2cgen")
    if m2cgen is not None:
        try:
            files["digits_m2c.py"] = m2cgen.export_to_python(rf)
            entries.append(("m2cgen", "digits_m2c.py",
                            "import digits_m2c\npredict = lambda r: _argmax(digits_m2c.score(r))", ""))
        except Exception as err:  # a peer's converter failing is a table entry, not a crash
            entries.append(("m2cgen", "", "", f"conversion failed: {type(err).__name__}"))
    else:
        entries.append(("m2cgen", "", "", note))

    program = [_TIMER, "entries = []"]
    for i, (label, _, setup, note) in enumerate(entries):
        if not note:
            program.append(f"{setup}\nentries.append(('e{i}', predict))")
    program.append(f"bench(entries, {args.reps})")
    out = run_micropython("\n".join(program), files, timeout=1800)
    results = {}
    for line in out.splitlines():
        key, us, preds = line.split(" ", 2)
        results[key] = (float(us), np.array([int(p) for p in preds.split(",")]))

    print(f"digits RandomForest (10 trees, depth 6), {len(X_test)} rows, MicroPython "
          f"(WebAssembly), fastest of {args.reps} rounds")
    print(f"{'implementation':24} {'us/prediction':>14} {'source B':>10} {'mpy B':>16} {'agreement':>10}")
    for i, (label, fname, _, note) in enumerate(entries):
        if note:
            print(f"{label:24} {note}")
            continue
        us, preds = results[f"e{i}"]
        agree = float(np.mean(preds == want)) * 100
        mpy = _mpy_size(fname, files[fname]) if fname.endswith(".py") else "n/a (data)"
        print(f"{label:24} {us:14.1f} {len(files[fname].encode()):10d} {mpy:>16} {agree:9.1f}%")


if __name__ == "__main__":
    main()
