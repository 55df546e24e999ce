"""Small real models shared by the lossy-pass tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits_forest():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    from emlc.frontends.sklearn import from_sklearn

    X, y = load_digits(return_X_y=True)
    model = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X[:900], y[:900])
    return from_sklearn(model), X[900:1300]


@pytest.fixture(scope="session")
def boosted():
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingClassifier

    from emlc.frontends.sklearn import from_sklearn

    X, y = load_iris(return_X_y=True)
    return from_sklearn(GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0).fit(X, y))


@pytest.fixture(scope="session")
def small_forest():
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier

    from emlc.frontends.sklearn import from_sklearn

    X, y = load_wine(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))
    model = RandomForestClassifier(n_estimators=6, max_depth=4, random_state=0).fit(X[idx[:90]], y[idx[:90]])
    return from_sklearn(model), X[idx[90:]]
