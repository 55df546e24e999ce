"""Random IR for the pass tests: the shared strategy plus float64-only thresholds.

scikit-learn stores float64 thresholds halfway between float32 values; the shared
strategy draws float32-exact ones, under which float32 rounding bugs stay invisible.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from emlc.ir import Ensemble, Op
from tests.strategies import ensembles


def _halfway(ens: Ensemble, rng: np.random.Generator) -> Ensemble:
    ranked = np.array([r is not None for r in ens.feature_ranks] or [False] * ens.n_features)

    def rewrite(t):
        thr = t.threshold.copy()
        on = ((t.op == Op.LE) | (t.op == Op.LT)) & ~ranked[np.maximum(t.feature, 0)] & np.isfinite(thr)
        on &= rng.random(t.n_nodes) < 0.7
        up = np.nextafter(thr.astype(np.float32), np.float32(np.inf)).astype(np.float64)
        thr[on] = (thr[on] + up[on]) / 2
        return t.replace(threshold=thr)

    return ens.replace(trees=tuple(rewrite(t) for t in ens.trees))


def _crowd(ens: Ensemble, rng: np.random.Generator) -> Ensemble:
    """Thresholds drawn from a few neighbouring values, so paths test the same values again."""
    ranked = np.array([r is not None for r in ens.feature_ranks] or [False] * ens.n_features)
    pool = np.array([-1.0, 0.0, 1.0, 2.0] if ens.threshold_dtype.kind in "iu" else [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0])

    def rewrite(t):
        thr = t.threshold.copy()
        on = ((t.op == Op.LE) | (t.op == Op.LT)) & ~ranked[np.maximum(t.feature, 0)]
        thr[on] = pool[rng.integers(len(pool), size=int(on.sum()))]
        return t.replace(threshold=thr)

    return ens.replace(trees=tuple(rewrite(t) for t in ens.trees))


def _mix_ops(ens: Ensemble, rng: np.random.Generator) -> Ensemble:
    """Some ``<=`` nodes of unranked features become ``<`` and vice versa: mixed features."""
    ranked = np.array([r is not None for r in ens.feature_ranks] or [False] * ens.n_features)

    def rewrite(t):
        flip = ((t.op == Op.LE) | (t.op == Op.LT)) & ~ranked[np.maximum(t.feature, 0)] & (rng.random(t.n_nodes) < 0.4)
        return t.replace(op=np.where(flip, np.uint8(Op.LE + Op.LT) - t.op, t.op).astype(np.uint8))

    return ens.replace(trees=tuple(rewrite(t) for t in ens.trees))


@st.composite
def pass_ensembles(draw, **kwargs) -> Ensemble:
    """``ensembles(**kwargs)``; thresholds often crowded, off the float32 grid, or mixing ``<=``/``<``."""
    ens = draw(ensembles(**kwargs))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        ens = _crowd(ens, rng)
    if draw(st.booleans()):
        ens = _mix_ops(ens, rng)
    if ens.threshold_dtype == np.float64 and ens.input_type.startswith("float") and draw(st.booleans()):
        ens = _halfway(ens, rng)
    return ens
