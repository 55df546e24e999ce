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


@st.composite
def pass_ensembles(draw, **kwargs) -> Ensemble:
    """``ensembles(**kwargs)``; float64 threshold columns often moved off the float32 grid."""
    ens = draw(ensembles(**kwargs))
    if ens.threshold_dtype == np.float64 and ens.input_type.startswith("float") and draw(st.booleans()):
        ens = _halfway(ens, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    return ens
