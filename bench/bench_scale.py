"""Compile time and peak memory against model size: emlc (-O2 + C) and its peers.

For 10, 100, 1,000 and 2,000 trees the table shows, per tool, the seconds to turn a
trained model into C source and the peak resident memory of the process doing it.
Every measurement runs in a fresh subprocess (peak RSS from ``VmHWM``, so imports
and the loaded model count too; the "idle" column is the same process doing nothing). Models:
LightGBM binary (num_leaves=--leaves, 20 features, learning_rate 0.05) for emlc,
m2cgen and tl2cgen; emlearn reads only scikit-learn, so it gets RandomForests with
the same tree counts and each max_depth in --depth (emlc is run on them too). A
big-leaf LightGBM family (num_leaves=255, max_depth=12, min_child_samples=1; --big-trees
trees) also times ``emlc.jit``'s compile (load + LLVM object code, no disk cache).
``emlc.jit`` cells add the predictor's throughput (k rows/s, CPU time, 20,000 random
rows); ``emlc-jit`` is the default (a model over ``INLINE_MAX_NODES`` nodes is walked
from tables), ``emlc-jit-inline`` and ``emlc-jit-table`` force either kernel, which is
what the default's switch point rests on (both LightGBM families).
Peers are imported if installed (``pip install emlearn m2cgen tl2cgen treelite``);
a tool that is missing, fails or runs past --timeout seconds says so in its cell.
``--tools`` limits the columns (emlearn and m2cgen take minutes on big forests).
Run: ``python bench/bench_scale.py [--trees 10,100,1000,2000] [--leaves 63] [--depth 8,12]
[--big-trees 1000] [--tools idle,emlc,emlc-jit,emlc-jit-table,tl2cgen] [--timeout 600]``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _train(kind: str, n_trees: int, leaves: int, depth: int, path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 20)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] - X[:, 3] ** 2 + rng.normal(0, 0.5, size=len(X)) > 0).astype(int)
    if kind == "lightgbm":
        import lightgbm as lgb

        model = lgb.LGBMClassifier(
            n_estimators=n_trees, num_leaves=leaves, learning_rate=0.05, verbose=-1,
            min_child_samples=5, n_jobs=1,
        ).fit(X, y)
    elif kind == "lightgbm-big":
        import lightgbm as lgb

        model = lgb.LGBMClassifier(
            n_estimators=n_trees, num_leaves=255, max_depth=12, learning_rate=0.05, verbose=-1,
            min_child_samples=1, min_child_weight=1e-3, n_jobs=1,
        ).fit(X, y)
    else:
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(n_trees, max_depth=depth, random_state=0, n_jobs=1).fit(X[:5000], y[:5000])
    path.write_bytes(pickle.dumps(model))


#: ``inline_max_nodes`` of each emlc.jit column (None: the default)
_JIT = {"emlc-jit": None, "emlc-jit-inline": 1 << 62, "emlc-jit-table": 0}


def _convert(tool: str, model, work: Path):
    """Generate C source for ``model`` with ``tool``; returns the bytes written, or for
    ``emlc.jit`` the predictor."""
    if tool == "idle":
        return 0
    if tool == "emlc":
        sys.path.insert(0, str(ROOT))
        from emlc import load
        from emlc.backends.c import emit_c
        from emlc.passes import optimize

        result = optimize(load(model), level="O2")
        return len(emit_c(result.ensemble, "host", "model", result.layout))
    if tool in _JIT:
        sys.path.insert(0, str(ROOT))
        import emlc

        limit = {} if _JIT[tool] is None else {"inline_max_nodes": _JIT[tool]}
        return emlc.jit(model, cache_dir=False, **limit)
    if tool == "m2cgen":
        import m2cgen

        return len(m2cgen.export_to_c(model))
    if tool == "emlearn":
        import emlearn

        code = emlearn.convert(model, method="inline").save(name="model", format="c")
        return len(code)
    if tool == "tl2cgen":
        import tl2cgen
        import treelite

        tl = (treelite.frontend.from_lightgbm(model.booster_) if hasattr(model, "booster_")
              else treelite.sklearn.import_model(model))
        tl2cgen.generate_c_code(tl, dirpath=str(work / "tl2cgen"), params={})
        return sum(p.stat().st_size for p in (work / "tl2cgen").iterdir())
    raise ValueError(tool)


def worker(tool: str, model_path: str) -> None:
    model = pickle.loads(Path(model_path).read_bytes())
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        made = _convert(tool, model, Path(tmp))
        seconds = time.perf_counter() - start
    result = {"seconds": seconds, "peak_mib": _peak_mib()}
    if tool in _JIT:  # peak is the compile's; then rows/s, checked against the library
        import numpy as np

        X = np.random.default_rng(1).normal(size=(20_000, made.ensemble.n_features)).astype(np.float32)
        made.predict(X[:1000])
        cpu = time.process_time()
        y = made.predict(X)
        result["k_rows_s"] = len(X) / (time.process_time() - cpu) / 1e3
        result["same"] = bool(np.array_equal(y, model.predict(X)))
    print(json.dumps(result))


def _peak_mib() -> float:
    """Peak resident memory of this process: VmHWM, since Linux keeps ``ru_maxrss`` across
    exec (a worker would report the parent's peak, which holds the trained models)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(tool: str, model_path: Path, timeout: float) -> str:
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", tool, str(model_path)],
            capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"> {timeout:g} s"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return "not installed" if "ModuleNotFoundError" in last else f"failed: {last[:40]}"
    r = json.loads(out.stdout.strip().splitlines()[-1])
    cell = f"{r['seconds']:.2f} s, {r['peak_mib']:.0f} MiB"
    if "k_rows_s" in r:
        cell += f", {r['k_rows_s']:.1f}k/s" + ("" if r["same"] else " DIFFERS")
    return cell


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trees", default="10,100,1000,2000")
    p.add_argument("--leaves", type=int, default=63)
    p.add_argument("--depth", default="8,12", help="RandomForest max_depth values, comma-separated")
    p.add_argument("--big-trees", default="1000", help="tree counts of the 255-leaf LightGBM family")
    p.add_argument("--tools", default="idle,emlc,emlc-jit,emlc-jit-inline,emlc-jit-table,emlearn,m2cgen,tl2cgen")
    p.add_argument("--timeout", type=float, default=600, help="seconds per measurement")
    p.add_argument("--worker", nargs=2, metavar=("TOOL", "MODEL"))
    args = p.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    wanted = args.tools.split(",")
    jits = ["emlc-jit", "emlc-jit-inline", "emlc-jit-table"]
    families = {f"LightGBM {args.leaves} leaves": ("lightgbm", 0, args.trees, ["idle", "emlc", *jits, "m2cgen", "tl2cgen"])}
    for depth in (int(d) for d in args.depth.split(",") if d):
        families[f"RandomForest depth {depth}"] = ("forest", depth, args.trees,
                                                   ["idle", "emlc", "emlearn", "m2cgen", "tl2cgen"])
    families["LightGBM 255 leaves, depth 12"] = ("lightgbm-big", 12, args.big_trees,
                                                 ["idle", "emlc", *jits, "tl2cgen"])
    with tempfile.TemporaryDirectory() as tmp:
        for title, (kind, depth, counts, tools) in families.items():
            tools = [t for t in tools if t in wanted]
            if not counts:
                continue
            print(f"\n{title}: C generation (emlc.jit: compile) time, peak RSS of the converting process")
            print(f"{'trees':>6}  " + "  ".join(f"{t:>32}" for t in tools))
            for n in [int(v) for v in counts.split(",") if v]:
                path = Path(tmp) / f"{kind}_{depth}_{n}.pkl"
                _train(kind, n, args.leaves, depth, path)
                cells = [_measure(t, path, args.timeout) for t in tools]
                print(f"{n:>6}  " + "  ".join(f"{c:>32}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
