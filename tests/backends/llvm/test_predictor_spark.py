"""A JIT predictor scores a 200k-row Spark dataframe with ``mapInPandas`` (local[2]).

Spark's Python workers are separate processes: the function given to ``mapInPandas``
is pickled by cloudpickle together with the predictor it closes over, so each worker
links the object code the predictor carries, without compiling. Rows carry an id, so
the result is compared row for row with LightGBM's own ``predict`` whatever order the
partitions come back in.
"""

from __future__ import annotations

import sys

import lightgbm as lgb
import numpy as np
import pytest

from emlc.backends.llvm import jit
from tests.conftest import require_module, require_tool

ROWS, FEATURES = 200_000, 8


@pytest.fixture(scope="module")
def spark():
    require_tool("java")
    for name in ("pyspark", "pandas", "pyarrow"):
        require_module(name)
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as env:
        env.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # no hostname lookup on CI machines
        session = _session(SparkSession.builder)
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def _session(builder):
    return (
        builder.master("local[2]")
        .appName("emlc-test")
        .config("spark.driver.memory", "640m")  # Spark wants 450 MB; SerialGC reports 495 of 512m
        # a short job on a shared 2-core machine: the C1 compiler only and one GC thread
        # start the JVM and run the first job ~2-5 s sooner (16-18 s against 18-27 s)
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        .config("spark.pyspark.python", sys.executable)  # workers run this interpreter (and find emlc)
        .config("spark.pyspark.driver.python", sys.executable)
        .getOrCreate()
    )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning:pyspark")  # pandas 3: "PySpark does not yet fully support"
@pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark")  # pandas 3: pyspark passes astype(copy=)
def test_spark_map_in_pandas_equals_lightgbm(spark):
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, FEATURES))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, verbose=-1, n_jobs=1).fit(X, y)
    predictor = jit(model, cache_dir=False)

    rows = np.random.default_rng(1).normal(size=(ROWS, FEATURES))
    columns = [f"f{i}" for i in range(FEATURES)]
    frame = pd.DataFrame(rows, columns=columns)
    frame.insert(0, "id", np.arange(ROWS, dtype=np.int64))
    df = spark.createDataFrame(frame)  # through Arrow, in 2 partitions of 10k-row batches

    def score(batches):
        for batch in batches:
            yield batch[["id"]].assign(label=predictor.predict(batch[columns].to_numpy()))  # as in the README

    got = df.mapInPandas(score, schema="id long, label long").toPandas().sort_values("id")
    assert np.array_equal(got["id"].to_numpy(), np.arange(ROWS))
    assert np.array_equal(got["label"].to_numpy(), model.predict(rows))
