"""Bytes and nodes after each lossless pass, and trees evaluated with exact early exit.

Models: scikit-learn RandomForest on digits (n_estimators=10, max_depth=6,
random_state=0) and a 100-round XGBoost model on digits (10 classes, depth 4, so
1000 trees). For each -O level and target the table shows, after every pass, nodes,
leaf-table rows and estimated model bytes in the layout the cost model picks; then
the mean number of trees an exact early exit evaluates on the digits rows.
Run: ``python bench/bench_passes.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import emlc  # noqa: E402
from emlc.ir.interpret import interpret, interpret_early_exit, interpret_trees_evaluated  # noqa: E402
from emlc.passes import optimize  # noqa: E402

RUNS = [("O1", "host"), ("O2", "host"), ("O2", "avr"), ("Os", "avr")]


def models():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    import xgboost

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    rf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y)
    xgb = xgboost.XGBClassifier(n_estimators=100, max_depth=4, random_state=0, n_jobs=1).fit(X, y)
    return X, {"digits RF 10x6": emlc.load(rf), "digits XGBoost 100 rounds": emlc.load(xgb)}


def main() -> None:
    X, found = models()
    for title, ens in found.items():
        print(f"\n== {title}: {ens.n_trees} trees, {ens.n_nodes} nodes, {ens.leaves.shape[0]} leaf rows")
        for level, target in RUNS:
            start = time.perf_counter()
            res = optimize(ens, level=level, target=target)
            took = time.perf_counter() - start
            print(f"\n-O{level[1:]} target {target}, layout {res.layout} ({took:.2f} s)")
            print(res.table())
            out = res.ensemble
            assert np.array_equal(interpret(out, X), interpret(ens, X))
            if out.early_exit is not None:
                assert np.array_equal(interpret_early_exit(out, X), interpret(ens, X))
                evaluated = interpret_trees_evaluated(out, X)
                print(
                    f"exact early exit: mean {evaluated.mean():.1f} of {ens.n_trees} trees evaluated "
                    f"(median {np.median(evaluated):.0f}, {np.mean(evaluated < ens.n_trees):.0%} of rows stop early)"
                )


if __name__ == "__main__":
    main()
