"""The accuracy budget holds on held-out rows, and the chosen lossy builds run on targets.

Each model is calibrated on one split and checked on another it never saw. The drop
measured there may exceed the budget by sampling noise, so the check allows the
slack documented in :mod:`emlc.budget`: three binomial standard errors of the
held-out share plus one percentage point.
"""

from __future__ import annotations

import numpy as np
import pytest

from emlc.budget import search_budget
from emlc.frontends.sklearn import from_sklearn
from emlc.ir.interpret import interpret
from emlc.passes.lossy.apply import agreement, accuracy
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, run_parallel

BUDGET = 0.02


def _split(loader, seed: int = 0):
    X, y = loader(return_X_y=True)
    idx = np.random.default_rng(seed).permutation(len(y))
    a, b = len(y) // 2, 3 * len(y) // 4
    return (X[idx[:a]], y[idx[:a]]), (X[idx[a:b]], y[idx[a:b]]), (X[idx[b:]], y[idx[b:]])


def _cases():
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    return {
        "digits-rf": (load_digits, RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0), False),
        "wine-et": (load_wine, ExtraTreesClassifier(n_estimators=10, max_depth=5, random_state=0), False),
        "cancer-rf": (load_breast_cancer, RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0), True),
    }


def _slack(n: int) -> float:
    p = max(BUDGET, 0.01)
    return 3 * np.sqrt(p * (1 - p) / n) + 0.01


@pytest.fixture(scope="module")
def searched():
    out = {}
    for name, (loader, model, labels) in _cases().items():
        (Xt, yt), (Xc, yc), (Xh, yh) = _split(loader)
        ens = from_sklearn(model.fit(Xt, yt))
        # -Os: the table layout, where leaf compression shrinks the model (AVR's inline code
        # adds leaf values as instructions, which clustering does not remove)
        result = search_budget(ens, Xc, yc if labels else None, max_drop=BUDGET, target="avr", level="Os")
        out[name] = (ens, result, Xh, yh, labels)
    return out


@pytest.mark.parametrize("name", sorted(_cases()))
def test_budget_holds_on_held_out_rows(searched, name):
    ens, result, Xh, yh, labels = searched[name]
    assert result.best.drop <= BUDGET
    assert result.best.bytes <= min(r.bytes for r in result.rows if r.settings.label() == "exact")
    if labels:
        drop = accuracy(ens, Xh, yh) - accuracy(result.ensemble, Xh, yh)
    else:
        drop = 1 - agreement(result.ensemble, np.asarray(interpret(ens, Xh)), Xh)
    assert drop <= BUDGET + _slack(len(Xh)), (result.chosen.label(), drop)


def _exact_and_two_per_class(searched):
    result = searched["digits-rf"][1]
    exact = next(r for r in result.rows if r.settings.label() == "exact")
    two = next(r for r in result.rows if r.settings.label() == "2/class")
    return exact, two


def test_digits_two_leaves_per_class_agrees(searched):
    assert _exact_and_two_per_class(searched)[1].agreement >= 0.97


def test_digits_two_leaves_per_class_is_smaller(searched):
    exact, two = _exact_and_two_per_class(searched)
    assert two.bytes < exact.bytes


@pytest.mark.parametrize("target", ["host", "avr"])
def test_chosen_builds_run_on_target(searched, target):
    require_tool(*TOOLS[target])
    jobs, expected = [], []
    for ens, result, Xh, _, _ in searched.values():
        rows = Xh[:40].astype(np.float32)
        jobs.append((result.ensemble, rows, target))
        expected.append(interpret(result.ensemble, rows))
    for got, want in zip(run_parallel(jobs, workers=2), expected):
        np.testing.assert_array_equal(got.predict, want)
