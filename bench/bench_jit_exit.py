"""Host JIT with early exit: predict throughput and trees evaluated per row, by threshold.

A scikit-learn random forest (3 classes) compiled by emlc.jit without an early exit, with
the exact one (threshold 1) and with lossy confidence exits, for both tree kernels
(branches, vector). CPU time of the process, best of a few runs (the machine may be
shared). Also checks that predict equals ``interpret_early_exit``.

    python bench/bench_jit_exit.py [--trees 60] [--rows 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

import emlc
from emlc.backends.llvm.codegen import VECTOR_MAX_NODES
from emlc.backends.llvm.predictor import Predictor
from emlc.ir.interpret import interpret_early_exit, interpret_trees_evaluated
from emlc.passes.lossy.confidence_exit import confidence_exit


def _rate(p: Predictor, X: np.ndarray, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        p.predict(X)
        best = min(best, time.process_time() - t)
    return X.shape[0] / best / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", type=int, default=60)
    ap.add_argument("--rows", type=int, default=20000)
    args = ap.parse_args()
    X, y = make_classification(n_samples=4000, n_features=10, n_informative=6, n_classes=3, random_state=0)
    forest = RandomForestClassifier(n_estimators=args.trees, max_depth=7, random_state=0).fit(X[:2000], y[:2000])
    base = emlc.load(forest)
    rng = np.random.default_rng(0)
    Xt = X[2000:][rng.integers(0, 2000, size=args.rows)].astype(np.float32)
    print(f"{args.trees}-tree forest, {args.rows} rows, CPU time, best of 5")
    print(f"{'exit':>10} {'trees/row':>10} {'kernel':>9} {'M rows/s':>9}  predict == interpret_early_exit")
    for threshold in (None, 1.0, 0.7, 0.5, 0.3):
        ens = base if threshold is None else confidence_exit(base, threshold)
        trees = interpret_trees_evaluated(ens, Xt).mean()
        want = interpret_early_exit(ens, Xt)
        for kernel, vmax in (("branches", 0), ("vector", VECTOR_MAX_NODES)):
            p = Predictor(ens, cache_dir=False, vector_max_nodes=vmax)
            same = np.array_equal(p.predict(Xt), want)
            label = "none" if threshold is None else f"{threshold:g}"
            print(f"{label:>10} {trees:>10.1f} {kernel:>9} {_rate(p, Xt):>9.2f}  {same}")


if __name__ == "__main__":
    main()
