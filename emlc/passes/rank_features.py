"""``rank_features``: compare small integer ranks instead of float feature values.

For a float input feature compared only with ``<=`` (or only with ``<``) and never
by a categorical node, its distinct thresholds become the sorted ``edges`` of a
:class:`FeatureRank` and each threshold becomes its index ``k``: with
``rank(x) = count(edges < x)``, ``x <= edges[k]`` holds exactly when
``rank(x) <= k`` (and with ``rank(x) = count(edges <= x)``, ``x < edges[k]`` exactly
when ``rank(x) <= k``); NaN stays NaN and keeps its default direction, +-inf rank
past the ends. So the pass is lossless for every input. A feature compared both ways
first has each ``x < t`` rewritten as ``x <= p``, with ``p`` the largest value of the
input type below ``t``: the same test for every value the input type can hold
(features with ``x < -inf`` keep both kinds and stay unranked). A feature with at most
255 edges compares uint8 ranks, else uint16; features with more than 65535 distinct
thresholds or categorical splits stay unranked.
``narrow_types`` then stores the thresholds as integers when every feature is ranked.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Ensemble, FeatureRank, Op, Tree
from .trees.tables import map_nodes

MAX_EDGES = 65535


def _below(t: np.ndarray, input_type: str) -> np.ndarray:
    """Largest value of the float input type strictly below each ``t``."""
    kind = np.dtype(input_type).type
    with np.errstate(over="ignore"):
        f = t.astype(kind)
    f = np.where(f >= t, np.nextafter(f, kind(-np.inf)), f)
    return f.astype(np.float64)


def _only_le(ens: Ensemble) -> Ensemble:
    """Features compared with both ``<=`` and ``<`` get ``<=`` only (when exact)."""
    op, feature, threshold = ens.column("op"), ens.column("feature"), ens.column("threshold")
    ops = [set(np.unique(op[feature == f]).tolist()) for f in range(ens.n_features)]
    lt_minus_inf = set(feature[(op == Op.LT) & (threshold == -np.inf)].tolist())
    mixed = np.array([{Op.LE, Op.LT} <= k and Op.CAT not in k and f not in lt_minus_inf for f, k in enumerate(ops)])
    if not mixed.any():
        return ens

    def rewrite(t: Tree) -> Tree:
        on = (t.op == Op.LT) & mixed[np.maximum(t.feature, 0)]
        thr = t.threshold.astype(np.float64)
        thr[on] = _below(thr[on], ens.input_type)
        return t.replace(op=np.where(on, np.uint8(Op.LE), t.op).astype(np.uint8), threshold=thr.astype(t.threshold.dtype))

    return map_nodes(ens, rewrite)


def _rankable(ens: Ensemble) -> dict[int, tuple[np.ndarray, bool]]:
    """Feature -> (edges, strict) for every feature this pass can rank."""
    ranks = ens.feature_ranks or (None,) * ens.n_features
    op, feature, threshold = ens.column("op"), ens.column("feature"), ens.column("threshold")
    out = {}
    for f in range(ens.n_features):
        on = feature == f
        kinds = set(np.unique(op[on]).tolist())
        if ranks[f] is not None or not kinds or len(kinds) != 1 or Op.CAT in kinds:
            continue
        edges = np.unique(threshold[on].astype(np.float64))
        if edges.size <= MAX_EDGES:
            out[f] = (edges, kinds == {Op.LT})
    return out


def rank_features(ens: Ensemble) -> Ensemble:
    """Every rankable float feature replaced by its threshold rank."""
    if not ens.input_type.startswith("float"):
        return ens
    ens = _only_le(ens)
    todo = _rankable(ens)
    if not todo:
        return ens

    def rewrite(t: Tree) -> Tree:
        thr = t.threshold.astype(np.float64)
        op = t.op.copy()
        for f, (edges, _) in todo.items():
            on = (t.feature == f) & (t.op != Op.LEAF)
            thr[on] = np.searchsorted(edges, thr[on])
            op[on] = Op.LE
        return t.replace(op=op, threshold=thr.astype(t.threshold.dtype))

    ranks = list(ens.feature_ranks or (None,) * ens.n_features)
    for f, (edges, strict) in todo.items():
        ranks[f] = FeatureRank(edges=edges, strict=strict)
    return map_nodes(ens, rewrite).replace(feature_ranks=tuple(ranks))
