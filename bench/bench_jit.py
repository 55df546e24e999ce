"""Host JIT benchmark: emlc.jit against the library's predict, lleaves and tl2cgen.

One machine, one run, one thread. Prints compile time and rows/s, both wall-clock and
CPU time of the process (the machine may be shared: CPU time is what a loaded machine
distorts least; the load average is printed), and whether raw margins and probabilities
equal the library's. lleaves pins llvmlite<0.45, so it runs in its own virtual
environment under /tmp (created on first use, recreated when its llvmlite is wrong);
tl2cgen is pip-installed there too. Anything that cannot be installed is reported.

    python bench/bench_jit.py [--rows 100000] [--skip-peers]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VENV = Path(tempfile.gettempdir()) / "emlc-bench-peers"

_PEER = r"""
import json, sys, time
import numpy as np
kind, model_file, x_file, out_file = sys.argv[1:5]
X = np.load(x_file)
res = {}

def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c

def best(fn):
    runs = [timed(fn) for _ in range(3)]
    return runs[-1][0], min(r[1] for r in runs), min(r[2] for r in runs)

if kind == "lleaves":
    import lleaves
    m = lleaves.Model(model_file=model_file)
    _, res["compile"], res["compile_cpu"] = timed(lambda: m.compile(cache=None))
    m.predict(X[:1000], n_jobs=1)
    y, res["predict"], res["predict_cpu"] = best(lambda: m.predict(X, n_jobs=1))
else:
    import treelite, tl2cgen, xgboost as xgb, lightgbm as lgb
    if model_file.endswith(".json"):
        tm = treelite.frontend.load_xgboost_model(model_file)
    else:
        tm = treelite.frontend.load_lightgbm_model(model_file)
    _, res["compile"], res["compile_cpu"] = timed(lambda: tl2cgen.export_lib(
        tm, toolchain="gcc", libpath=out_file + ".so", params={"parallel_comp": 8}))
    res["compile_cpu"] = None  # gcc runs in child processes: CPU time not comparable
    pred = tl2cgen.Predictor(out_file + ".so", nthread=1)
    d = tl2cgen.DMatrix(X)
    pred.predict(tl2cgen.DMatrix(X[:1000]))
    y, res["predict"], res["predict_cpu"] = best(lambda: pred.predict(d))
np.save(out_file, np.asarray(y))
print(json.dumps(res))
"""


def _peer_env() -> tuple[Path | None, str]:
    """A venv with lleaves and tl2cgen; (python, note about what failed)."""
    py = VENV / "bin" / "python"
    check = "import lleaves, tl2cgen, treelite, llvmlite; assert tuple(map(int, llvmlite.__version__.split('.')[:2])) < (0, 45)"
    if py.exists() and subprocess.run([str(py), "-c", check], capture_output=True).returncode == 0:
        return py, ""
    shutil.rmtree(VENV, ignore_errors=True)
    if subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True).returncode:
        return None, "could not create a venv"
    pins = ["lleaves", "llvmlite<0.45", "tl2cgen", "treelite", "xgboost", "lightgbm"]
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", *pins], capture_output=True, text=True)
    if r.returncode:
        return None, f"peers not installable: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}"
    return py, ""


def _run_peer(py: Path, kind: str, model_file: str, X: np.ndarray, work: Path):
    np.save(work / "X.npy", X)
    (work / "peer.py").write_text(_PEER)
    out = work / f"{kind}_out"
    r = subprocess.run([str(py), str(work / "peer.py"), kind, model_file, str(work / "X.npy"), str(out)],
                       capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"
    return json.loads(r.stdout.strip().splitlines()[-1]) | {"y": np.load(str(out) + ".npy")}, ""


def _rate(n: int, seconds: float | None) -> str:
    return "-" if seconds is None else f"{n / seconds / 1e6:.3f}"


def _secs(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


def _row(name: str, n: int, r: dict, same: str) -> str:
    cells = [_secs(r.get("compile")), _secs(r.get("compile_cpu")), _rate(n, r.get("predict")),
             _rate(n, r.get("predict_cpu")), same]
    return f"| {name} | " + " | ".join(cells) + " |"


def _timed(fn, repeat: int = 1):
    """(result, best wall seconds, best CPU seconds) over ``repeat`` runs."""
    runs = []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        runs.append((out, time.perf_counter() - w, time.process_time() - c))
    return runs[-1][0], min(r[1] for r in runs), min(r[2] for r in runs)


def _agree(y: np.ndarray, ref: np.ndarray) -> str:
    if y.shape == ref.shape and np.array_equal(y, ref):
        return "exact"
    return f"max diff {np.max(np.abs(y - ref)):.1e}" if y.shape == ref.shape else "DIFFERENT shape"


def bench(title: str, model, library, model_file: str, X: np.ndarray, peers, work: Path) -> list[str]:
    """``library``: (predict probabilities, raw margins) of the source library, 1 thread."""
    from emlc.backends.llvm import jit

    proba, margins = library
    lines = [f"\n### {title}", "",
             "| engine | compile s | compile s CPU | M rows/s | M rows/s CPU | predictions vs library |",
             "|---|---|---|---|---|---|"]
    proba(X[:1000])
    ref, w, c = _timed(lambda: proba(X), 2)
    lines.append(_row("library predict", len(X), {"predict": w, "predict_cpu": c}, "reference"))
    pred, cw, cc = _timed(lambda: jit(model, cache_dir=False))
    pred.predict_raw(X[:1000])
    raw, w, c = _timed(lambda: pred.predict_raw(X), 3)
    got = pred.predict_proba(X)
    got = got if ref.ndim == 2 else got[:, 1]
    raw_ok = "raw exact" if np.array_equal(raw.reshape(-1), np.asarray(margins(X)).reshape(-1)) else "raw DIFFERENT"
    lines.append(_row("emlc.jit", len(X), {"compile": cw, "compile_cpu": cc, "predict": w, "predict_cpu": c},
                      f"{raw_ok}, proba {_agree(got, ref)}"))
    jit(model, cache_dir=work / "cache")
    _, cw, cc = _timed(lambda: jit(model, cache_dir=work / "cache"))
    lines.append(_row("emlc.jit (disk cache hit)", len(X), {"compile": cw, "compile_cpu": cc}, ""))
    py, note = peers
    for kind in ("lleaves", "tl2cgen"):
        if kind == "lleaves" and not model_file.endswith(".txt"):
            continue
        if py is None:
            lines.append(f"| {kind} | not run: {note} | | | | |")
            continue
        res, err = _run_peer(py, kind, model_file, X, work)
        if res is None:
            lines.append(f"| {kind} | failed: {err[:80]} | | | | |")
            continue
        lines.append(_row(kind, len(X), res, f"proba {_agree(res['y'].reshape(ref.shape), ref)}"))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args()
    import lightgbm as lgb
    import xgboost as xgb

    rng = np.random.default_rng(0)
    work = Path(tempfile.mkdtemp(prefix="emlc-bench-"))
    peers = (None, "skipped (--skip-peers)") if args.skip_peers else _peer_env()
    out = ["# emlc.jit benchmark", f"python {sys.version.split()[0]}, rows {args.rows}, 1 thread, "
           f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs at the start"]
    if peers[1]:
        out.append(f"peer setup: {peers[1]}")

    X = rng.normal(size=(20_000, 50))
    y = (X[:, :8].sum(axis=1) + rng.normal(size=len(X)) > 0).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 63, "verbose": -1, "num_threads": 2},
                        lgb.Dataset(X, y), num_boost_round=300)
    lgb_file = str(work / "lgb.txt")
    booster.save_model(lgb_file)
    Xt = rng.normal(size=(args.rows, 50))
    Xt[rng.random(Xt.shape) < 0.02] = np.nan
    lgb_fns = (lambda Z: booster.predict(Z, num_threads=1), lambda Z: booster.predict(Z, num_threads=1, raw_score=True))
    out += bench("LightGBM binary: 300 trees x 63 leaves, 50 features", booster, lgb_fns, lgb_file, Xt, peers, work)

    Xm = rng.normal(size=(20_000, 20)).astype(np.float32)
    ym = (Xm[:, 0] > 0).astype(int) + (Xm[:, 1] > 0.5) + (Xm[:, 2] > 1)
    clf = xgb.XGBClassifier(n_estimators=125, max_depth=6, n_jobs=2).fit(Xm, ym)  # 4 classes: 500 trees
    xgb_file = str(work / "xgb.json")
    clf.get_booster().save_model(xgb_file)
    Xmt = rng.normal(size=(args.rows, 20)).astype(np.float32)
    clf.set_params(n_jobs=1)
    xgb_fns = (clf.predict_proba, lambda Z: clf.predict(Z, output_margin=True))
    out += bench("XGBoost 4-class: 500 trees, depth 6, 20 features", clf, xgb_fns, xgb_file, Xmt, peers, work)
    out.append(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    print("\n".join(out))


if __name__ == "__main__":
    main()
