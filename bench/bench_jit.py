"""Host JIT benchmark: emlc.jit against the library's predict, lleaves and tl2cgen.

One machine, one run, one thread. Prints compile time, rows/s and whether the
predictions equal the library's. lleaves pins an older llvmlite, so it runs in its own
virtual environment under /tmp (created on first use); tl2cgen is pip-installed into
that environment too. Anything that cannot be installed is reported, not hidden.

    python bench/bench_jit.py [--rows 100000] [--skip-peers]
"""

from __future__ import annotations

import argparse
import json
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
if kind == "lleaves":
    import lleaves
    t = time.perf_counter()
    m = lleaves.Model(model_file=model_file)
    m.compile(cache=None)
    res["compile"] = time.perf_counter() - t
    m.predict(X[:1000], n_jobs=1)
    t = time.perf_counter()
    y = m.predict(X, n_jobs=1)
    res["predict"] = time.perf_counter() - t
else:
    import treelite, tl2cgen, xgboost as xgb, lightgbm as lgb
    if model_file.endswith(".json"):
        tm = treelite.frontend.load_xgboost_model(model_file)
    else:
        tm = treelite.frontend.load_lightgbm_model(model_file)
    t = time.perf_counter()
    tl2cgen.export_lib(tm, toolchain="gcc", libpath=out_file + ".so", params={"parallel_comp": 8})
    res["compile"] = time.perf_counter() - t
    pred = tl2cgen.Predictor(out_file + ".so", nthread=1)
    d = tl2cgen.DMatrix(X)
    pred.predict(tl2cgen.DMatrix(X[:1000]))
    t = time.perf_counter()
    y = pred.predict(d)
    res["predict"] = time.perf_counter() - t
np.save(out_file, np.asarray(y))
print(json.dumps(res))
"""


def _peer_env() -> tuple[Path | None, str]:
    """A venv with lleaves and tl2cgen; (python, note about what failed)."""
    py = VENV / "bin" / "python"
    notes = []
    if not py.exists():
        if subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True).returncode:
            return None, "could not create a venv"
    for pkg in ("lleaves llvmlite<0.45", "tl2cgen treelite xgboost lightgbm"):
        mod = pkg.split()[0]
        if subprocess.run([str(py), "-c", f"import {mod}"], capture_output=True).returncode == 0:
            continue
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", *pkg.split()], capture_output=True, text=True)
        if r.returncode:
            notes.append(f"{mod} not installable: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    return py, "; ".join(notes)


def _run_peer(py: Path, kind: str, model_file: str, X: np.ndarray, work: Path):
    np.save(work / "X.npy", X)
    (work / "peer.py").write_text(_PEER)
    out = work / f"{kind}_out"
    r = subprocess.run([str(py), str(work / "peer.py"), kind, model_file, str(work / "X.npy"), str(out)],
                       capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"
    return json.loads(r.stdout.strip().splitlines()[-1]) | {"y": np.load(str(out) + ".npy")}, ""


def _row(name: str, compile_s: float | None, n: int, predict_s: float | None, same: str) -> str:
    c = "-" if compile_s is None else f"{compile_s:8.2f}"
    rate = "-" if predict_s is None else f"{n / predict_s / 1e6:8.3f}"
    return f"| {name:<28} | {c:>10} | {rate:>12} | {same:<10} |"


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bench(title: str, model, library_predict, model_file: str, X: np.ndarray, peers, work: Path) -> list[str]:
    from emlc.backends.llvm import jit

    lines = [f"\n### {title}", "", "| engine | compile s | M rows/s | same as lib |", "|---|---|---|---|"]
    library_predict(X[:1000])
    ref, t_lib = _timed(lambda: library_predict(X))
    lines.append(_row("library predict (1 thread)", None, len(X), t_lib, "reference"))
    pred, t_c = _timed(lambda: jit(model, cache_dir=False))
    pred.predict_raw(X[:1000])
    raw, t_p = _timed(lambda: pred.predict_raw(X))
    same = np.array_equal(pred.predict_proba(X) if ref.ndim == 2 else pred.predict_proba(X)[:, 1], ref)
    close = np.allclose(pred.predict_proba(X) if ref.ndim == 2 else pred.predict_proba(X)[:, 1], ref, rtol=0, atol=1e-6)
    lines.append(_row("emlc.jit", t_c, len(X), t_p, "exact" if same else ("<=1e-6" if close else "DIFFERENT")))
    cached, t_cc = _timed(lambda: jit(model, cache_dir=work / "cache"))
    cached2, t_cc = _timed(lambda: jit(model, cache_dir=work / "cache"))
    lines.append(_row("emlc.jit (disk cache hit)", t_cc, len(X), None, ""))
    py, note = peers
    for kind in ("lleaves", "tl2cgen"):
        if kind == "lleaves" and not model_file.endswith(".txt"):
            continue
        if py is None:
            lines.append(f"| {kind} | not run: {note} | | |")
            continue
        res, err = _run_peer(py, kind, model_file, X, work)
        if res is None:
            lines.append(f"| {kind} | failed: {err[:80]} | | |")
            continue
        y = res["y"].reshape(ref.shape)
        ok = "exact" if np.array_equal(y, ref) else ("<=1e-6" if np.allclose(y, ref, atol=1e-6) else "DIFFERENT")
        lines.append(_row(kind, res["compile"], len(X), res["predict"], ok))
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
    out = ["# emlc.jit benchmark", f"python {sys.version.split()[0]}, rows {args.rows}, 1 thread"]
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
    out += bench("LightGBM binary: 300 trees x 63 leaves, 50 features", booster,
                 lambda Z: booster.predict(Z, num_threads=1), lgb_file, Xt, peers, work)

    Xm = rng.normal(size=(20_000, 20)).astype(np.float32)
    ym = (Xm[:, 0] > 0).astype(int) + (Xm[:, 1] > 0.5) + (Xm[:, 2] > 1)
    clf = xgb.XGBClassifier(n_estimators=125, max_depth=6, n_jobs=2).fit(Xm, ym)  # 4 classes: 500 trees
    xgb_file = str(work / "xgb.json")
    clf.get_booster().save_model(xgb_file)
    Xmt = rng.normal(size=(args.rows, 20)).astype(np.float32)
    clf.set_params(n_jobs=1)
    out += bench("XGBoost 4-class: 500 trees, depth 6, 20 features", clf, clf.predict_proba, xgb_file, Xmt, peers, work)
    print("\n".join(out))


if __name__ == "__main__":
    main()
