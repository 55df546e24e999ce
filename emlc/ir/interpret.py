"""Reference interpreter: the executable definition of the IR's semantics.

Every pass and backend is tested against these functions. They are vectorised
over rows and trees at once (all trees are flattened into one node table and
walked level by level), so they also serve big models and large test sets.
"""

from __future__ import annotations

import numpy as np

from ..errors import EmlcError
from . import libm
from .ensemble import Aggregation, Decision, Ensemble, Link, LinkMath, Op, Task

_CHUNK_CELLS = 1 << 22  # rows x trees walked at once; bounds peak memory


def _flat(ens: Ensemble) -> dict[str, np.ndarray]:
    """All trees as one node table; child indices made global, roots listed."""
    sizes = np.array([t.n_nodes for t in ens.trees], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    cols: dict[str, np.ndarray] = {}
    for name in ("op", "feature", "default_left", "leaf", "cat"):
        cols[name] = np.concatenate([getattr(t, name) for t in ens.trees])
    cols["threshold"] = np.concatenate([t.threshold.astype(np.float64) for t in ens.trees])
    for name in ("left", "right"):
        parts = []
        for t, s in zip(ens.trees, starts):
            c = getattr(t, name).astype(np.int64)
            parts.append(np.where(c >= 0, c + s, -1))
        cols[name] = np.concatenate(parts)
    cols["roots"] = starts
    return cols


def prepare_inputs(ens: Ensemble, X) -> np.ndarray:
    """Cast rows to the declared input type, then to float64 (exactly), then ranks."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != ens.n_features:
        raise ValueError(
            f"expected a 2-D array with {ens.n_features} feature columns, got shape {X.shape}"
        )
    Xc = X.astype(ens.input_type).astype(np.float64)
    for f, rank in enumerate(ens.feature_ranks):
        if rank is not None:
            Xc[:, f] = rank.rank(Xc[:, f])
    return Xc


def _category_member(x: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """Is trunc(x) a valid category whose bit is set in the given bitset rows?"""
    n_bits = sets.shape[1] * 32
    with np.errstate(invalid="ignore"):
        valid = (x > -1) & (x < n_bits)
    c = np.where(valid, np.trunc(np.where(valid, x, 0)), 0).astype(np.int64)
    word = np.take_along_axis(sets, (c // 32)[:, None], axis=1)[:, 0] if sets.size else np.zeros_like(c)
    return valid & (((word.astype(np.int64) >> (c % 32)) & 1) == 1)


def leaf_indices(ens: Ensemble, X) -> np.ndarray:
    """Leaf-table row reached in every tree: int array [n_rows, n_trees]."""
    Xc = prepare_inputs(ens, X)
    n = Xc.shape[0]
    out = np.empty((n, ens.n_trees), dtype=np.int64)
    if ens.n_trees == 0 or n == 0:
        return out
    flat = _flat(ens)
    step = max(1, _CHUNK_CELLS // ens.n_trees)
    for lo in range(0, n, step):
        out[lo : lo + step] = _walk(flat, ens.cat_sets, Xc[lo : lo + step])
    return out


def _walk(flat: dict[str, np.ndarray], cat_sets: np.ndarray, Xc: np.ndarray) -> np.ndarray:
    n = Xc.shape[0]
    node = np.broadcast_to(flat["roots"], (n, flat["roots"].shape[0])).copy()
    rows = np.broadcast_to(np.arange(n)[:, None], node.shape)
    active = flat["op"][node] != Op.LEAF
    while active.any():
        r = rows[active]
        nd = node[active]
        op = flat["op"][nd]
        x = Xc[r, flat["feature"][nd]]
        t = flat["threshold"][nd]
        go_left = np.where(op == Op.LT, x < t, x <= t)
        is_cat = op == Op.CAT
        if is_cat.any():
            go_left[is_cat] = _category_member(x[is_cat], cat_sets[flat["cat"][nd[is_cat]]])
        nan = np.isnan(x)
        go_left[nan] = flat["default_left"][nd[nan]]
        nxt = np.where(go_left, flat["left"][nd], flat["right"][nd])
        node[active] = nxt
        active[active] = flat["op"][nxt] != Op.LEAF
    return flat["leaf"][node]


def _running_sums(ens: Ensemble, leaf_rows: np.ndarray):
    """The accumulator after 0, 1, ..., n_trees trees (one array, updated in place).

    Float tables accumulate in ``accum_dtype`` (from ``base_score`` under SUM, else
    from 0); integer tables accumulate exactly in int64 from 0.
    """
    width = ens.leaf_width
    integer = ens.leaves.dtype.kind in "iu"
    acc_dtype = np.int64 if integer else np.dtype(ens.accum_dtype)
    table = ens.leaves.astype(acc_dtype)
    acc = np.empty((leaf_rows.shape[0], ens.n_outputs), dtype=acc_dtype)
    start_from_base = ens.aggregation is Aggregation.SUM and not integer
    acc[...] = ens.base_score.astype(ens.accum_dtype) if start_from_base else 0
    yield acc
    for i in range(ens.n_trees):
        o = int(ens.tree_output[i])
        acc[:, o : o + width] += table[leaf_rows[:, i]]
        yield acc


def interpret_raw(ens: Ensemble, X) -> np.ndarray:
    """Raw margins [n_rows, n_outputs]: aggregated leaves plus base score, before the link."""
    leaf_rows = leaf_indices(ens, X)
    n = leaf_rows.shape[0]
    width = ens.leaf_width
    if ens.aggregation is Aggregation.VOTE:
        votes = np.zeros((n, ens.n_outputs), dtype=np.int64)
        winners = np.argmax(ens.leaf_values(), axis=1)
        for i in range(ens.n_trees):
            cls = ens.tree_output[i] + winners[leaf_rows[:, i]]
            np.add.at(votes, (np.arange(n), cls), 1)
        raw = votes.astype(np.float64) / max(ens.n_trees, 1)
        return raw + ens.base_score
    *_, acc = _running_sums(ens, leaf_rows)
    integer = ens.leaves.dtype.kind in "iu"
    base = ens.base_score.astype(ens.accum_dtype)
    start_from_base = ens.aggregation is Aggregation.SUM and not integer
    if integer:
        scale = np.ones(width) if ens.leaf_scale is None else ens.leaf_scale
        acc = acc.astype(np.float64) * np.resize(scale, ens.n_outputs)
        acc = acc.astype(ens.accum_dtype)
    if ens.aggregation is Aggregation.MEAN:
        acc = acc / acc.dtype.type(max(ens.n_trees, 1))
    if not start_from_base:
        acc = acc + base
    return acc


def apply_link(ens: Ensemble, raw: np.ndarray) -> np.ndarray:
    """Raw margins to outputs, step by step in the library's arithmetic (``ens.link_math``)."""
    if ens.link is Link.IDENTITY:
        return raw
    with np.errstate(over="ignore", under="ignore"):
        if ens.link_math is LinkMath.XGBOOST:
            return _xgboost_link(ens.link, raw.astype(np.float32))
        if ens.link_math is LinkMath.LIBM:
            return _libm_link(ens, raw)
        return _numpy_link(ens, raw)


def _numpy_link(ens: Ensemble, raw: np.ndarray) -> np.ndarray:
    dt = raw.dtype.type
    p = ens.link_params
    if ens.link is Link.SIGMOID:
        alpha = dt(p[0] if p else 1.0)
        return dt(1) / (dt(1) + np.exp(-alpha * raw))
    if ens.link is Link.SOFTMAX:
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if ens.link is Link.EXP:
        return np.exp(raw)
    if ens.link is Link.ISOLATION:
        return -np.power(dt(2), -raw / dt(p[0])) - dt(p[1])
    raise ValueError(f"unknown link {ens.link}")


def _in_order(columns: np.ndarray, dtype: type) -> np.ndarray:
    """Row sums of ``columns`` added one class after another from 0, in ``dtype``."""
    total = np.zeros(columns.shape[0], dtype=dtype)
    for k in range(columns.shape[1]):
        total = total + columns[:, k].astype(dtype)
    return total


def _libm_link(ens: Ensemble, raw: np.ndarray) -> np.ndarray:
    """LightGBM's ConvertOutput and SciPy's expit: ``1 / (1 + exp(-a * x))``, ``exp(x)``,
    softmax as ``exp(x - max) / sum`` with the sum in class order; C exp, raw dtype."""
    dt = raw.dtype.type
    exp = libm.exp if dt is np.float64 else libm.expf
    if ens.link is Link.SIGMOID:
        alpha = dt(ens.link_params[0] if ens.link_params else 1.0)
        return dt(1) / (dt(1) + exp(-alpha * raw))
    if ens.link is Link.EXP:
        return exp(raw)
    if ens.link is Link.SOFTMAX:
        e = exp(raw - raw.max(axis=1, keepdims=True))
        return e / _in_order(e, dt)[:, None]
    raise ValueError(f"link {ens.link.value} has no libm rule")


def _xgboost_link(link: Link, raw: np.ndarray) -> np.ndarray:
    """XGBoost's PredTransform in float32 (src/common/math.h): Sigmoid clamps ``-x`` to
    88.7 and adds 1e-16 to the denominator; Softmax sums ``expf(x - max)`` in float64."""
    f32 = np.float32
    if link is Link.SIGMOID:
        return f32(1) / (libm.expf(np.minimum(-raw, f32(88.7))) + f32(1) + f32(1e-16))
    if link is Link.EXP:
        return libm.expf(raw)
    if link is Link.SOFTMAX:
        e = libm.expf(raw - raw.max(axis=1, keepdims=True))
        return e / _in_order(e, np.float64).astype(f32)[:, None]
    raise ValueError(f"link {link.value} has no XGBoost rule")


def interpret_value(ens: Ensemble, X) -> np.ndarray:
    """Link outputs [n_rows, n_outputs]: probabilities, regression values or anomaly scores."""
    return apply_link(ens, interpret_raw(ens, X))


def decide(ens: Ensemble, raw: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Class index per row (or +-1 for anomaly detection)."""
    d = ens.decision
    if d is Decision.ARGMAX:
        if value.shape[1] == 1:
            p = value[:, 0]
            return ((1 - p) < p).astype(np.int64)
        return np.argmax(value, axis=1)
    if d is Decision.RAW_ARGMAX:
        if raw.shape[1] == 1:
            return (raw[:, 0] >= 0).astype(np.int64)
        return np.argmax(raw, axis=1)
    if d is Decision.GT_HALF:
        return (value[:, 0] > 0.5).astype(np.int64)
    if d is Decision.SIGN:
        return np.where(value[:, 0] >= 0, 1, -1)
    raise ValueError(f"{ens.task.value} model has no class decision")


def predictions_from_raw(ens: Ensemble, raw: np.ndarray) -> np.ndarray:
    """Raw margins to what ``predict`` returns; shared by every host predictor."""
    value = apply_link(ens, raw)
    if ens.task is Task.CLASSIFICATION:
        idx = decide(ens, raw, value)
        return idx if ens.classes is None else np.asarray(ens.classes)[idx]
    if ens.task is Task.ANOMALY:
        return decide(ens, raw, value)
    return value[:, 0] if ens.n_outputs == 1 else value


def proba_from_raw(ens: Ensemble, raw: np.ndarray) -> np.ndarray:
    """Raw margins to ``predict_proba``'s class probabilities (binary: ``[1 - p, p]``)."""
    if ens.task is not Task.CLASSIFICATION:
        raise EmlcError(f"predict_proba needs a classifier, this model is a {ens.task.value} model")
    value = apply_link(ens, raw)
    if value.shape[1] == 1 and ens.n_classes == 2:
        return np.hstack([1 - value, value])
    return value


def interpret(ens: Ensemble, X) -> np.ndarray:
    """What the source library's ``predict`` returns: labels for classifiers, values otherwise."""
    return predictions_from_raw(ens, interpret_raw(ens, X))


def interpret_proba(ens: Ensemble, X) -> np.ndarray:
    """Class probabilities [n_rows, n_classes], as the library's ``predict_proba``."""
    return proba_from_raw(ens, interpret_raw(ens, X))


def _early_exit(ens: Ensemble, X) -> tuple[np.ndarray, np.ndarray]:
    """Per row: class index decided at an early-exit check point (-1 if none), trees evaluated."""
    leaf_rows = leaf_indices(ens, X)
    n = leaf_rows.shape[0]
    cls = np.full(n, -1, dtype=np.int64)
    evaluated = np.full(n, ens.n_trees, dtype=np.int64)
    ee = ens.early_exit
    if ee is None or n == 0:
        return cls, evaluated
    check = {int(k): j for j, k in enumerate(ee.checkpoints)}
    for k, acc in enumerate(_running_sums(ens, leaf_rows)):
        j = check.get(k)
        if j is None:
            continue
        open_ = cls < 0
        a = acc[open_].astype(ee.lower.dtype)
        low = a + ee.lower[j]
        if ens.n_outputs == 1:
            up = a + ee.upper[j]
            got = np.where(low[:, 0] > 0, 1, np.where(up[:, 0] < 0, 0, -1))
        else:
            c = np.argmax(low, axis=1)
            rows = np.arange(a.shape[0])
            up = a + ee.upper[j]
            beats = (low[rows, c][:, None] > up) | (np.arange(ens.n_outputs)[None, :] == c[:, None])
            got = np.where(beats.all(axis=1), c, -1)
        idx = np.flatnonzero(open_)
        cls[idx] = got
        evaluated[idx[got >= 0]] = k
    return cls, evaluated


def interpret_trees_evaluated(ens: Ensemble, X) -> np.ndarray:
    """Trees a predict with the ``early_exit`` check points evaluates per row (int64 [n_rows])."""
    return _early_exit(ens, X)[1]


def interpret_early_exit(ens: Ensemble, X) -> np.ndarray:
    """``interpret`` computed as an early-exiting predict would: the class at the exit point.

    Equal to :func:`interpret` whenever the ``early_exit`` bounds are sound, which is
    what the tests of the pass that sets them check.
    """
    full = interpret(ens, X)
    cls, _ = _early_exit(ens, X)
    if ens.task is not Task.CLASSIFICATION or not (cls >= 0).any():
        return full
    labels = cls if ens.classes is None else np.asarray(ens.classes)[np.maximum(cls, 0)]
    return np.where(cls >= 0, labels, full)
