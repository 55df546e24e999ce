"""emlc.jit at scale: rows/s in one thread, in two threads (``n_jobs=2``), on two Dask workers and in Spark local[2].

A LightGBM binary model (--trees x 63 leaves, 20 features) scores --rows rows. The
Dask run uses a ``LocalCluster`` of 2 worker processes with one thread each; its rows
are generated and persisted on the workers first, so the time is scoring plus Dask's
own cost (pickling the predictor, scheduling, gathering results), not data transfer
from this process. The overhead is Dask's wall time over the in-process 2-thread
time for the same rows. Spark (when pyspark and Java are installed) runs ``local[2]``:
the same rows, with an id, are read from a Parquet file and cached in the JVM first,
and the Python workers started by a tiny job, so the time is one ``mapInPandas`` over
the cached rows plus collecting (id, label) back. Predictions of all are checked equal.

    python bench/bench_dask.py [--rows 2000000] [--trees 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

FEATURES = 20


def _model(trees: int):
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, FEATURES))
    y = (X[:, 0] + X[:, 1] * X[:, 2] - X[:, 3] ** 2 > 0).astype(int)
    return lgb.LGBMClassifier(n_estimators=trees, num_leaves=63, verbose=-1, n_jobs=1).fit(X, y)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _spark(X: np.ndarray, predictor, tmp: str):
    """(labels in row order, seconds) of ``mapInPandas`` in Spark local[2], or None without pyspark."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    import sys

    columns = [f"f{i}" for i in range(FEATURES)]
    path = f"{tmp}/rows.parquet"
    pq.write_table(pa.table({"id": np.arange(len(X)), **{c: X[:, i] for i, c in enumerate(columns)}}), path)
    spark = (SparkSession.builder.master("local[2]").config("spark.driver.memory", "2g")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .config("spark.pyspark.python", sys.executable).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        frame = spark.read.parquet(path).repartition(8).cache()
        frame.count()
        spark.range(2, numPartitions=2).mapInPandas(lambda b: b, "id long").collect()  # start the workers

        def score(batches):
            for b in batches:
                yield b[["id"]].assign(label=predictor.predict(b[columns].to_numpy()))

        got, t = _timed(lambda: frame.mapInPandas(score, "id long, label long").toPandas())
    finally:
        spark.stop()
    return got.sort_values("id")["label"].to_numpy(), t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--trees", type=int, default=100)
    args = p.parse_args()

    import tempfile

    import dask.array as da
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster, wait

    import emlc

    model = _model(args.trees)
    one = emlc.jit(model, cache_dir=False)
    two = emlc.jit(model, n_jobs=2, cache_dir=False)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster):
        rows = da.random.default_rng(1).normal(size=(args.rows, FEATURES), chunks=(args.rows // 8, FEATURES))
        frame = dd.from_dask_array(rows, columns=[f"f{i}" for i in range(FEATURES)]).persist()
        wait(frame)
        X = frame.compute().to_numpy()
        base, t1 = _timed(lambda: one.predict(X))
        threads, t2 = _timed(lambda: two.predict(X))
        workers, td = _timed(lambda: frame.map_partitions(one.predict, meta=(None, "int64")).compute())
    assert np.array_equal(base, threads) and np.array_equal(base, np.asarray(workers))
    with tempfile.TemporaryDirectory() as tmp:
        spark = _spark(X, one, tmp)
    runs = [("1 thread", t1), ("2 threads (n_jobs=2)", t2), ("2 Dask workers", td)]
    if spark is None:
        print("(no Spark column: pyspark is not installed)")
    else:
        assert np.array_equal(base, spark[0])
        runs.append(("Spark local[2]", spark[1]))
    print(f"LightGBM binary, {args.trees} trees x 63 leaves, {FEATURES} features, {args.rows:,} rows (wall time)")
    print(f"{'run':<26}{'seconds':>9}{'M rows/s':>10}")
    for name, t in runs:
        print(f"{name:<26}{t:>9.2f}{args.rows / t / 1e6:>10.2f}")
    print(f"Dask overhead over 2 in-process threads: {td / t2 - 1:+.0%} ({td - t2:+.2f} s)")
    if spark is not None:
        print(f"Spark overhead over 2 in-process threads: {spark[1] / t2 - 1:+.0%} ({spark[1] - t2:+.2f} s)")


if __name__ == "__main__":
    main()
