"""Where compile time goes on big models: loading, each -O2 pass and the final verify.

The models are bench_scale.py's (LightGBM 63 leaves and a RandomForest of depth 8,
``--trees`` trees each). Every measurement runs in a fresh process, as bench_scale's
do, and the table shows the fastest of ``--repeat`` runs per stage, in milliseconds.
Run: ``python bench/bench_stages.py [--trees 1000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(model_path: str) -> None:
    """One run: load, every -O2 pass on the host, the manager's final verify (ms per stage)."""
    from emlc import load
    from emlc.gc_pause import gc_paused
    from emlc.ir.verify import verify
    from emlc.passes.manager import PASSES, pipeline
    from emlc.targets import get_target

    model = pickle.loads(Path(model_path).read_bytes())

    @gc_paused
    def stages() -> dict[str, float]:
        times = {}
        start = time.perf_counter()
        ens = load(model)
        times["load"] = time.perf_counter() - start
        for name in pipeline("O2", get_target("host")):
            start = time.perf_counter()
            ens = PASSES[name](ens)
            times[name] = time.perf_counter() - start
        start = time.perf_counter()
        verify(ens)
        times["verify"] = time.perf_counter() - start
        return times

    print(json.dumps({k: v * 1000 for k, v in stages().items()}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trees", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--worker", metavar="MODEL")
    args = p.parse_args()
    if args.worker:
        worker(args.worker)
        return
    from bench.bench_scale import _train

    with tempfile.TemporaryDirectory() as tmp:
        for title, kind, depth in (("LightGBM 63 leaves", "lightgbm", 0), ("RandomForest depth 8", "forest", 8)):
            path = Path(tmp) / f"{kind}.pkl"
            _train(kind, args.trees, 63, depth, path)
            best: dict[str, float] = {}
            for _ in range(args.repeat):
                out = subprocess.run([sys.executable, __file__, "--worker", str(path)],
                                     capture_output=True, text=True, check=True)
                for stage, ms in json.loads(out.stdout.strip().splitlines()[-1]).items():
                    best[stage] = min(best.get(stage, ms), ms)
            print(f"\n{title}, {args.trees} trees: fastest of {args.repeat} runs (ms)")
            for stage, ms in best.items():
                print(f"  {stage:<24}{ms:8.1f}")
            print(f"  {'load + passes + verify':<24}{sum(best.values()):8.1f}")


if __name__ == "__main__":
    main()
