"""The verifier accepts every generated ensemble and names each kind of corruption."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from emlc.errors import IRError
from emlc.ir import Aggregation, FeatureRank
from emlc.ir.ensemble import EarlyExit
from emlc.ir.text import parse_ir
from emlc.ir.verify import verify
from tests.ir.test_text import IRIS_LIKE
from tests.strategies import ensembles


@given(ensembles())
def test_accepts_generated_ensembles(ens):
    assert verify(ens) is ens


def _with_tree(ens, k=0, **columns):
    trees = list(ens.trees)
    tree = trees[k]
    trees[k] = tree.replace(**{n: _patched(getattr(tree, n), v) for n, v in columns.items()})
    return ens.replace(trees=tuple(trees))


def _patched(col, changes):
    col = col.copy()
    for i, v in changes.items():
        col[i] = v
    return col


def _exit(ens, checkpoint=1):
    bounds = np.zeros((1, ens.n_outputs))
    return EarlyExit(np.array([checkpoint], np.int32), bounds, bounds.copy())


CORRUPTIONS = {
    "cycle": (lambda e: _with_tree(e, right={2: 0}), "cycle"),
    "cycle below root": (
        lambda e: _with_tree(e, op={4: 1}, feature={4: 0}, leaf={4: -1}, left={4: 3}, right={4: 2}),
        "node 2: part of a cycle",
    ),
    "unreachable": (lambda e: _with_tree(e, right={0: 3}), "node 2: unreachable from the root"),
    "feature out of range": (lambda e: _with_tree(e, feature={0: 4}), "feature index out of range"),
    "child out of range": (lambda e: _with_tree(e, left={0: 9}), "left child out of range"),
    "negative child": (lambda e: _with_tree(e, right={0: -1}), "right child out of range"),
    "nan threshold": (lambda e: _with_tree(e, threshold={2: np.nan}), "NaN threshold"),
    "leaf row out of range": (lambda e: _with_tree(e, leaf={1: 7}), "leaf row out of range"),
    "leaf with children": (lambda e: _with_tree(e, left={1: 2}), "leaf must have no children"),
    "unknown op": (lambda e: _with_tree(e, op={0: 9}), "unknown op code"),
    "bad category set": (lambda e: _with_tree(e, 1, cat={0: 3}), "category set out of range"),
    "leaf width mismatch": (lambda e: e.replace(leaves=np.ones((3, 4))), "exceeds 3 outputs"),
    "column dtype": (
        lambda e: e.replace(trees=(e.trees[0].replace(left=e.trees[0].left.astype(np.int64)),) + e.trees[1:]),
        "column left has dtype int64",
    ),
    "threshold dtype mix": (
        lambda e: e.replace(trees=(e.trees[0].replace(threshold=e.trees[0].threshold.astype(np.float32)),) + e.trees[1:]),
        "threshold dtype float64 differs",
    ),
    "non-finite leaf": (lambda e: e.replace(leaves=np.array([[1.0, 0, 0], [0, np.inf, 0], [0, 0, 1]])), "non-finite"),
    "class count": (lambda e: e.replace(classes=np.array([0, 1])), "2 classes need 2 outputs"),
    "integer threshold on float feature": (
        lambda e: e.replace(trees=tuple(t.replace(threshold=t.threshold.astype(np.int16)) for t in e.trees)),
        "integer threshold on an unranked float feature",
    ),
    "rank threshold out of range": (
        lambda e: e.replace(feature_ranks=(None, None, FeatureRank(np.array([1.0, 2.0])), None)),
        "rank threshold outside",
    ),
    "unsorted rank edges": (
        lambda e: e.replace(feature_ranks=(FeatureRank(np.array([2.0, 1.0])), None, None, None)),
        "strictly increasing",
    ),
    "tree_output length": (lambda e: e.replace(tree_output=np.zeros(5, np.int32)), "tree_output must be"),
    "base score shape": (lambda e: e.replace(base_score=np.zeros(2)), "base_score must be"),
    "early exit on votes": (
        lambda e: e.replace(aggregation=Aggregation.VOTE, early_exit=_exit(e)), "not votes"
    ),
    "early exit past the last tree": (
        lambda e: e.replace(early_exit=_exit(e, checkpoint=2)), "check points must be integers in"
    ),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_rejects_each_corruption_with_its_own_message(name):
    ens = parse_ir(IRIS_LIKE)
    corrupt, message = CORRUPTIONS[name]
    with pytest.raises(IRError, match=message):
        verify(corrupt(ens))


def test_messages_are_distinct():
    ens = parse_ir(IRIS_LIKE)
    messages = set()
    for corrupt, _ in CORRUPTIONS.values():
        with pytest.raises(IRError) as err:
            verify(corrupt(ens))
        messages.add(str(err.value))
    assert len(messages) == len(CORRUPTIONS)
