"""``Ensemble.column``: every tree's nodes back to back, computed once, never written, never pickled."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given

from emlc.ir import Tree
from tests.strategies import ensembles


@given(ensembles())
def test_column_is_the_trees_back_to_back(ens):
    for name in Tree.COLUMNS:
        col = ens.column(name)
        assert col is ens.column(name)  # cached
        assert np.array_equal(col, np.concatenate([getattr(t, name) for t in ens.trees]))
        assert col.dtype == getattr(ens.trees[0], name).dtype
        with pytest.raises(ValueError):
            col[:1] = col[:1]  # read-only: a pass cannot corrupt what the next one reads


@given(ensembles())
def test_copies_and_pickles_leave_the_cache_out(ens):
    ens.column("op")
    for other in (pickle.loads(pickle.dumps(ens)), copy.copy(ens), ens.replace(name="other")):
        assert "_columns" not in vars(other)
        assert np.array_equal(other.column("op"), ens.column("op"))
    assert len(pickle.dumps(ens)) == len(pickle.dumps(pickle.loads(pickle.dumps(ens))))
