"""The bulk printer of the inline walk prints exactly what the node-by-node walk prints."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(["O0", "O2"]), st.sampled_from(["host", "avr", "cortex-m4f"]), st.booleans())
def test_plain_trees_built_at_once_read_exactly_like_the_walk(data, level, target, guarded):
    """The whole-forest builder of plain trees (preorder, shared leaves only, nothing
    folded) prints the very text the per-node walk prints: leaves setting rows, adding
    fixed-point sums and setting rows (AVR), or only adding byte sums (AVR's first walk);
    ``guarded``: AVR's NaN-free tests where the plan takes them."""
    from emlc.backends.c.fixed import quick_plan
    from emlc.backends.c.model import Model
    from emlc.backends.c.plan import Layout, make_plan
    from emlc.backends.c.walk_inline import _walk
    from emlc.passes import optimize
    from emlc.targets import get_target
    from tests.strategies import ensembles

    ens = optimize(data.draw(ensembles()), level=level, target=target).ensemble
    tgt = get_target(target)
    model = Model(ens, tgt, "m", make_plan(ens, tgt, Layout.INLINE, guarded=guarded))
    for sums, rows in ((None, True), (model.fixed, True), (quick_plan(ens, model.target), False)):
        if sums is None and not rows:
            continue
        assert "".join(_walk(model, True, sums, rows)) == "".join(_walk(model, False, sums, rows))


def test_most_optimized_lightgbm_trees_take_the_whole_forest_builder():
    import lightgbm as lgb

    import emlc
    from emlc.backends.c.model import Model
    from emlc.backends.c.plan import Layout, make_plan
    from emlc.backends.c.walk_inline_bulk import plain_blocks as _plain_blocks
    from emlc.passes import optimize
    from emlc.targets import get_target

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, verbose=-1).fit(X, y)
    ens = optimize(emlc.load(model), level="O2").ensemble
    m = Model(ens, get_target("host"), "m", make_plan(ens, get_target("host"), Layout.INLINE))
    assert m.direct
    assert sum(b is not None for b in _plain_blocks(m, None)) >= 0.8 * ens.n_trees



def test_nan_free_walk_prints_the_same_in_bulk_and_node_by_node():
    """The NaN-free tests (DirectTest.HALF_NO_NAN, behind the NaN guard) of a digits
    forest come out of the whole-forest printer as the node-by-node walk prints them."""
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc
    from emlc.backends.c.model import Model
    from emlc.backends.c.plan import DirectTest, Layout, make_plan
    from emlc.backends.c.walk_inline import _walk
    from emlc.targets import get_target

    X, y = load_digits(return_X_y=True)
    ens = emlc.load(RandomForestClassifier(n_estimators=3, max_depth=5, random_state=0).fit(X, y))
    avr = get_target("avr")
    model = Model(ens, avr, "m", make_plan(ens, avr, Layout.INLINE, guarded=True))
    assert model.plan.direct_test is DirectTest.HALF_NO_NAN
    bulk = "".join(_walk(model, True, model.fixed, True))
    assert "M_HI(" in bulk and "32640" not in bulk  # no NaN patterns (+inf's upper half)
    assert bulk == "".join(_walk(model, False, model.fixed, True))
