"""Which features P_rows may key as int16 (half_keys), and how NaN is placed."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.c.half_keys import HalfKey, half_keys, keyed_nodes
from emlc.backends.c.numeric import key
from emlc.ir import FeatureRank, Op
from tests.backends.c.test_emit import _probe


def test_features_whose_thresholds_sit_on_one_16_bit_boundary_get_keys():
    # f0: x <= 0.5, 1.5 (keys multiples of 2^16: up); f1: x < 1.0 (keys end in 0xFFFF: down);
    # f2: x <= 0.1 (neither); f3: x <= 0.5 and x < 1.0 (both: neither); f4: x <= -3.5, NaN left
    specs = [(0.5, Op.LE, False), (1.5, Op.LE, False), (1.0, Op.LT, True), (0.1, Op.LE, False),
             (0.5, Op.LE, False), (1.0, Op.LT, False), (-3.5, Op.LE, True)]
    ens = _probe(specs)
    feature = [0, 0, 1, 2, 3, 3, 4]
    ens = ens.replace(trees=tuple(t.replace(feature=np.array([f, -1, -1], dtype=t.feature.dtype))
                                  for t, f in zip(ens.trees, feature)))
    keys = half_keys(ens)
    assert keys == {0: HalfKey(down=False, nan_high=True), 1: HalfKey(down=True, nan_high=False),
                    4: HalfKey(down=False, nan_high=False)}
    assert keyed_nodes(ens) == (4, 0)
    ranked = ens.replace(feature_ranks=(FeatureRank(np.array([0.5, 1.5]), strict=False), *[None] * 6))
    assert half_keys(ranked)[0] == keys[0]


@settings(max_examples=300)
@given(st.integers(0, 2**32 - 1), st.integers(-0x7F80, 0x7F7F), st.booleans())
def test_rounded_half_keys_decide_like_the_32_bit_keys(bits, c, down):
    """The rule of runtime/c/halves.c: key(x) / 2^16 rounded up (down) is <= c exactly when
    key(x) <= c * 2^16 (c * 2^16 + 0xFFFF), for every non-NaN float32."""
    x = float(np.array(bits, dtype=np.uint32).view(np.float32))
    if np.isnan(x):
        return
    k = key(x, "float32")
    q = k // 2**16 if down else -((-k) // 2**16)
    bound = c * 2**16 + (0xFFFF if down else 0)
    assert (q <= c) == (k <= bound)


def test_keyed_walk_prints_the_same_in_bulk_and_node_by_node():
    """P_rows' keyed tests (DirectTest.HALF_KEYS) come out of the whole-forest printer as
    the node-by-node walk prints them (digits forest, unranked: the bulk printer applies)."""
    from dataclasses import replace

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
    plan = make_plan(ens, avr, Layout.INLINE, quick=True, keyed_rows=True)
    assert plan.keyed_rows and not any(r is not None for r in ens.feature_ranks or ())
    model = Model(ens, avr, "m", replace(plan, direct_test=DirectTest.HALF_KEYS))
    bulk = "".join(_walk(model, True, model.fixed, True))
    assert "hk[" in bulk and "M_HI(" not in bulk
    assert bulk == "".join(_walk(model, False, model.fixed, True))
