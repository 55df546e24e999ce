"""A JIT predictor scores a 1M-row Dask dataframe on two worker processes.

Workers are separate processes: ``map_partitions`` pickles ``predictor.predict``, so
each worker links the object code once, without compiling.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from emlc.backends.llvm import jit
from tests.conftest import require_module

ROWS, FEATURES = 1_000_000, 8


@pytest.mark.slow
def test_dask_local_cluster_map_partitions_equals_lightgbm():
    require_module("distributed")
    import dask.array as da
    import dask.dataframe as dd
    from dask.base import tokenize
    from dask.distributed import Client, LocalCluster

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, FEATURES))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, verbose=-1, n_jobs=1).fit(X, y)
    predictor = jit(model, cache_dir=False)
    assert tokenize(predictor.predict) == tokenize(jit(model, cache_dir=False).predict)  # stable task names
    with (LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster,
          Client(cluster)):
        rows = da.random.default_rng(1).normal(size=(ROWS, FEATURES), chunks=(ROWS // 8, FEATURES))
        frame = dd.from_dask_array(rows, columns=[f"f{i}" for i in range(FEATURES)])
        ours = frame.map_partitions(predictor.predict, meta=(None, "int64"))
        theirs = frame.map_partitions(model.predict, meta=(None, "int64"))
        got, want = dd.compute(ours, theirs)
    assert len(got) == ROWS and np.array_equal(got, want)
