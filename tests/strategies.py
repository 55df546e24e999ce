"""Hypothesis strategies for random valid IR, reused by every property test.

``ensembles()`` draws the shape (task, sizes, dtypes, op family, categorical
splits, ranks, DAG sharing, leaf encoding) through hypothesis and the bulk of the
numbers from a drawn seed, which keeps generation fast for large trees.
``inputs_for(ens)`` draws rows that hit the awkward values: exactly on thresholds,
their float32 neighbours, NaN, +-inf, out-of-range categories.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from emlc.ir import Aggregation, Decision, Ensemble, FeatureRank, Link, Op, Task, Tree

INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "uint16": (0, 65535),
              "int32": (-2**31, 2**31 - 1)}


def _compact(op, feature, thr, dl, left, right, leaf, cat):
    """Drop nodes unreachable from the root, keeping parent < child numbering."""
    n = len(op)
    seen = np.zeros(n, bool)
    stack = [0]
    while stack:
        i = stack.pop()
        if seen[i]:
            continue
        seen[i] = True
        if op[i] != Op.LEAF:
            stack += [left[i], right[i]]
    keep = np.flatnonzero(seen)
    remap = np.full(n, -1)
    remap[keep] = np.arange(keep.size)
    cols = [np.asarray(c)[keep] for c in (op, feature, thr, dl, left, right, leaf, cat)]
    for k in (4, 5):
        cols[k] = np.where(cols[k] >= 0, remap[np.maximum(cols[k], 0)], -1)
    return cols


def _random_tree(rng, depth, n_features, pools, ops, cat_features, n_sets, n_leaf_rows, dag, thr_dtype):
    op, feature, thr, dl, left, right, leaf, cat = [], [], [], [], [], [], [], []

    def grow(d: int) -> int:
        i = len(op)
        for col in (op, feature, thr, dl, left, right, leaf, cat):
            col.append(0)
        split = d < depth and (d == 0 or rng.random() < 0.75)
        if not split:
            op[i], feature[i], left[i], right[i], leaf[i], cat[i] = Op.LEAF, -1, -1, -1, rng.integers(n_leaf_rows), -1
            return i
        f = int(rng.integers(n_features))
        feature[i] = f
        dl[i] = bool(rng.random() < 0.5)
        leaf[i] = -1
        if f in cat_features and n_sets:
            op[i], cat[i] = Op.CAT, int(rng.integers(n_sets))
        else:
            op[i], cat[i] = ops[f], -1
            thr[i] = pools[f][rng.integers(len(pools[f]))]
        left[i] = grow(d + 1)
        right[i] = grow(d + 1)
        return i

    grow(0)
    n = len(op)
    if dag and n > 3:
        for i in range(n):
            if op[i] != Op.LEAF and rng.random() < 0.3:
                later = [j for j in range(i + 1, n) if j != left[i]]
                if later:
                    right[i] = later[int(rng.integers(len(later)))]
    cols = _compact(op, feature, thr, dl, left, right, leaf, cat)
    return Tree.build(
        op=cols[0], feature=cols[1], threshold=cols[2], default_left=cols[3],
        left=cols[4], right=cols[5], leaf=cols[6], cat=cols[7], threshold_dtype=thr_dtype,
    )


@st.composite
def _plain_ensembles(
    draw,
    *,
    max_trees: int = 6,
    max_depth: int = 6,
    max_features: int = 6,
    tasks: tuple[Task, ...] = tuple(Task),
    categorical: bool = True,
    ranks: bool = True,
    integer_inputs: bool = True,
    dags: bool = True,
    integer_leaves: bool = True,
    input_types: tuple[str, ...] | None = None,
) -> Ensemble:
    task = draw(st.sampled_from(tasks))
    n_features = draw(st.integers(1, max_features))
    n_trees = draw(st.integers(1, max_trees))
    depth = draw(st.integers(0, max_depth))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    input_type = draw(st.sampled_from(input_types or ["float32"] * 3 + (["int16", "int8", "uint8"] if integer_inputs else [])))
    integer_input = input_type in INT_RANGES
    op_family = draw(st.sampled_from(["le", "lt", "mixed"]))
    use_ranks = ranks and not integer_input and op_family != "mixed" and draw(st.booleans())
    cat_features = set()
    if categorical and not integer_input and draw(st.booleans()):
        cat_features = {f for f in range(n_features) if rng.random() < 0.4}
    n_words = draw(st.integers(1, 2))
    n_sets = int(rng.integers(1, 4)) if cat_features else 0
    cat_sets = rng.integers(0, 2**32, size=(n_sets, n_words), dtype=np.uint64).astype(np.uint32)

    ops = [Op.LE if op_family == "le" else Op.LT if op_family == "lt" else Op(int(rng.integers(1, 3)))
           for _ in range(n_features)]
    feature_ranks: list[FeatureRank | None] = [None] * n_features
    pools: list[np.ndarray] = []
    for f in range(n_features):
        if integer_input:
            lo, hi = INT_RANGES[input_type]
            k = int(rng.integers(1, 5))
            pool = np.unique(rng.integers(lo - 2, hi + 2, size=k) + rng.choice([0.0, 0.5], size=k))
        else:
            k = int(rng.integers(1, 6))
            pool = np.unique(rng.normal(0, 10, size=k).astype(np.float32).astype(np.float64))
            if rng.random() < 0.2:
                pool = np.unique(np.append(pool, np.inf))
        if use_ranks and f not in cat_features and rng.random() < 0.7:
            feature_ranks[f] = FeatureRank(np.unique(pool[np.isfinite(pool)]) if np.isfinite(pool).any() else np.array([0.0]), strict=op_family == "lt")
            ops[f] = Op.LE
            pool = np.arange(feature_ranks[f].edges.size + 1, dtype=np.float64)
        pools.append(pool)
    all_ranked = all(r is not None for r in feature_ranks) and not cat_features
    if all_ranked:
        thr_dtype = draw(st.sampled_from(["uint8", "uint16", "float64"]))
    elif integer_input and all(np.all(p == np.round(p)) for p in pools) and draw(st.booleans()):
        thr_dtype = "int32"
    else:
        thr_dtype = draw(st.sampled_from(["float64", "float32"]))
        if thr_dtype == "float32":
            pools = [p.astype(np.float32).astype(np.float64) for p in pools]

    n_classes = draw(st.integers(2, 4))
    shape = draw(st.sampled_from(["forest", "boosted", "vote"])) if task is Task.CLASSIFICATION else "boosted"
    if task is Task.CLASSIFICATION and shape == "boosted" and n_classes == 2:
        n_outputs, width = 1, 1
    elif task is Task.CLASSIFICATION:
        n_outputs = n_classes
        width = 1 if shape == "boosted" else n_classes
    else:
        n_outputs, width = 1, 1
    n_leaf_rows = int(rng.integers(1, 12))
    leaf_dtype = draw(st.sampled_from(["float64", "float32"] + (["int8", "int16"] if integer_leaves else [])))
    # integer leaves: a scale per column, or one power of two for all (the lossy passes' grid,
    # base score on it too: integer sums decide the class)
    grid = leaf_dtype.startswith("int") and draw(st.booleans())
    if leaf_dtype.startswith("int"):
        leaves = rng.integers(-100, 100, size=(n_leaf_rows, width)).astype(leaf_dtype)
        leaf_scale = np.full(width, 2.0 ** -int(rng.integers(3, 10))) if grid else rng.uniform(0.001, 0.1, size=width)
    elif shape in ("forest", "vote"):
        raw = rng.integers(0, 5, size=(n_leaf_rows, width)).astype(np.float64) + 0.01
        leaves, leaf_scale = (raw / raw.sum(axis=1, keepdims=True)).astype(leaf_dtype), None
    else:
        leaves, leaf_scale = rng.normal(0, 1, size=(n_leaf_rows, width)).astype(leaf_dtype), None
    if task is Task.ANOMALY and leaf_scale is None:
        leaves = np.abs(leaves) + 1
    trees = tuple(
        _random_tree(rng, depth, n_features, pools, ops, cat_features, n_sets, n_leaf_rows, dags and draw(st.booleans()), thr_dtype)
        for _ in range(n_trees)
    )
    tree_output = np.zeros(n_trees, np.int32)
    if width == 1 and n_outputs > 1:
        tree_output = (np.arange(n_trees) % n_outputs).astype(np.int32)

    aggregation, link, link_params, decision, classes = Aggregation.SUM, Link.IDENTITY, (), Decision.NONE, None
    accum = draw(st.sampled_from(["float64", "float32"]))
    if task is Task.CLASSIFICATION:
        classes = np.arange(n_classes) * 3 if draw(st.booleans()) else np.array([f"c{i}" for i in range(n_classes)])
        if shape == "forest":
            aggregation, decision = Aggregation.MEAN, Decision.ARGMAX
        elif shape == "vote":
            aggregation, decision = Aggregation.VOTE, Decision.ARGMAX
        elif n_outputs == 1:
            link = Link.SIGMOID
            link_params = draw(st.sampled_from([(), (1.0,), (0.5,)]))
            decision = draw(st.sampled_from([Decision.ARGMAX, Decision.RAW_ARGMAX, Decision.GT_HALF]))
        else:
            link, decision = Link.SOFTMAX, draw(st.sampled_from([Decision.ARGMAX, Decision.RAW_ARGMAX]))
    elif task is Task.ANOMALY:
        link, link_params, decision = Link.ISOLATION, (float(rng.uniform(1, 20)) * n_trees, float(rng.uniform(-0.6, -0.4))), Decision.SIGN
        aggregation = Aggregation.SUM
    else:
        aggregation = draw(st.sampled_from([Aggregation.SUM, Aggregation.MEAN]))
        link = Link.EXP if task is Task.REGRESSION and draw(st.booleans()) else Link.IDENTITY
    base = rng.normal(0, 1, size=n_outputs) if aggregation is not Aggregation.VOTE and draw(st.booleans()) else np.zeros(n_outputs)
    if grid:
        base = np.rint(base / leaf_scale[0]) * leaf_scale[0]
    return Ensemble(
        n_features=n_features,
        task=task,
        trees=trees,
        tree_output=tree_output,
        leaves=leaves,
        n_outputs=n_outputs,
        aggregation=aggregation,
        base_score=base.astype(np.float64),
        link=link,
        link_params=link_params,
        decision=decision,
        classes=classes,
        accum_dtype=accum,
        input_type=input_type,
        leaf_scale=leaf_scale,
        cat_sets=cat_sets if n_sets else np.zeros((0, n_words), np.uint32),
        feature_ranks=tuple(feature_ranks) if any(r is not None for r in feature_ranks) else (),
        name=draw(st.sampled_from(["model", "m2", "iris_rf"])),
    )


def _unranked_splits(ens: Ensemble, t: Tree) -> np.ndarray:
    ranked = np.array([r is not None for r in ens.feature_ranks] or [False] * ens.n_features)
    return ((t.op == Op.LE) | (t.op == Op.LT)) & ~ranked[np.maximum(t.feature, 0)]


def _halfway(ens: Ensemble, rng: np.random.Generator) -> Ensemble:
    """Thresholds halfway between float32 values, as scikit-learn stores them."""

    def rewrite(t: Tree) -> Tree:
        thr = t.threshold.copy()
        on = _unranked_splits(ens, t) & np.isfinite(thr) & (rng.random(t.n_nodes) < 0.7)
        up = np.nextafter(thr.astype(np.float32), np.float32(np.inf)).astype(np.float64)
        thr[on] = (thr[on] + up[on]) / 2
        return t.replace(threshold=thr)

    return ens.replace(trees=tuple(rewrite(t) for t in ens.trees))


def _crowd(ens: Ensemble, rng: np.random.Generator) -> Ensemble:
    """Thresholds from a few neighbouring values, so paths test the same values again."""
    pool = np.array([-1.0, 0.0, 1.0, 2.0] if ens.threshold_dtype.kind in "iu" else [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0])

    def rewrite(t: Tree) -> Tree:
        thr = t.threshold.copy()
        on = _unranked_splits(ens, t)
        thr[on] = pool[rng.integers(len(pool), size=int(on.sum()))]
        return t.replace(threshold=thr)

    return ens.replace(trees=tuple(rewrite(t) for t in ens.trees))


def _mix_ops(ens: Ensemble, rng: np.random.Generator) -> Ensemble:
    """Some ``<=`` nodes of unranked features become ``<`` and vice versa."""

    def rewrite(t: Tree) -> Tree:
        flip = _unranked_splits(ens, t) & (rng.random(t.n_nodes) < 0.4)
        return t.replace(op=np.where(flip, np.uint8(Op.LE + Op.LT) - t.op, t.op).astype(np.uint8))

    return ens.replace(trees=tuple(rewrite(t) for t in ens.trees))


@st.composite
def ensembles(draw, **kwargs) -> Ensemble:
    """Random valid IR; thresholds often crowded, off the float32 grid, or mixing ``<=``/``<``.

    Keyword arguments bound the shape (see ``_plain_ensembles``). The threshold
    rewrites exist because float32-exact thresholds hide rounding bugs.
    """
    ens = draw(_plain_ensembles(**kwargs))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        ens = _crowd(ens, rng)
    if draw(st.booleans()):
        ens = _mix_ops(ens, rng)
    if ens.threshold_dtype == np.float64 and ens.input_type.startswith("float") and draw(st.booleans()):
        ens = _halfway(ens, rng)
    return ens


def special_values(ens: Ensemble, f: int) -> np.ndarray:
    """Values of feature ``f`` on which comparisons can go wrong: thresholds and neighbours."""
    vals: list[float] = []
    rank = ens.feature_ranks[f] if ens.feature_ranks else None
    if rank is not None:
        vals += list(rank.edges)
    for t in ens.trees:
        on = (t.feature == f) & ((t.op == Op.LE) | (t.op == Op.LT))
        if rank is None:
            vals += [float(v) for v in t.threshold[on]]
    if ens.input_type in INT_RANGES:
        lo, hi = INT_RANGES[ens.input_type]
        base = np.array([v for v in vals if np.isfinite(v)] + [lo, hi, 0], dtype=np.float64)
        cand = np.concatenate([np.floor(base), np.ceil(base), np.floor(base) - 1, np.ceil(base) + 1])
        return np.clip(cand, lo, hi)
    f32 = np.array([v for v in vals if np.isfinite(v)], dtype=np.float64).astype(np.float32)
    big = np.float32(3.0e38)
    near = np.concatenate([f32, np.nextafter(f32, -big), np.nextafter(f32, big)]) if f32.size else f32
    cats = np.array([-1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, 7.0, 31.0, 32.0, 33.0, 63.0, 64.0, 1e9], np.float32)
    out = np.concatenate([near, cats, np.array([np.nan, np.inf, -np.inf], np.float32)]).astype(np.float64)
    if ens.input_type == "float64":
        out = np.concatenate([out, float64_neighbours(np.array([v for v in vals if np.isfinite(v)]))])
    return out


#: the zero band: LightGBM drops |x| <= 1e-35f from a row, and values either side of it
ZERO_BAND = np.array([1e-36, -1e-36, 1e-35, -1e-35, 1.0000001e-35, 1e-40, -1e-40, 5e-324, -5e-324, 1e-30])


def float64_neighbours(t: np.ndarray) -> np.ndarray:
    """float64 values a float32 cast would move across ``t``: ``t``'s float64 neighbours,
    the float32 numbers around it and the midpoints between those (float64-input models)."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    lo = np.minimum(f, np.nextafter(f, np.float32(-np.inf))).astype(np.float64)
    hi = np.maximum(f, np.nextafter(f, np.float32(np.inf))).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        mids = [(lo + f) / 2, (f + hi) / 2, (t + f) / 2]
    out = np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf), lo, hi, *mids, ZERO_BAND])
    return out[np.isfinite(out)]


def as_float64_inputs(ens: Ensemble) -> Ensemble:
    """``ens`` claiming float64 inputs, so the row helpers draw float64 neighbours of its
    thresholds whatever the loaded IR says (a float32 claim would make the rows float32 too)."""
    return ens.replace(input_type="float64")


def threshold_rows(ens: Ensemble, n: int = 300, seed: int = 0) -> np.ndarray:
    """``n`` seeded rows, each cell one of its feature's :func:`special_values` as float64
    inputs see them: thresholds, float32 and float64 neighbours, midpoints, NaN, the zero band."""
    rng = np.random.default_rng(seed)
    cols = [special_values(as_float64_inputs(ens), f) for f in range(ens.n_features)]
    return np.column_stack([c[rng.integers(len(c), size=n)] for c in cols])


@st.composite
def inputs_for(draw, ens: Ensemble, max_rows: int = 40) -> np.ndarray:
    """A batch of rows for ``ens``, mixing special values and random ones."""
    n = draw(st.integers(1, max_rows))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = np.empty((n, ens.n_features))
    for f in range(ens.n_features):
        special = special_values(ens, f)
        if ens.input_type in INT_RANGES:
            lo, hi = INT_RANGES[ens.input_type]
            random = rng.integers(lo, hi + 1, size=n).astype(np.float64)
        else:
            random = rng.normal(0, 12, size=n)
            if ens.input_type != "float64":
                random = random.astype(np.float32).astype(np.float64)
        pick = rng.random(n) < 0.6
        X[:, f] = np.where(pick, special[rng.integers(len(special), size=n)], random)
    return X.astype(ens.input_type) if ens.input_type in INT_RANGES else X


def with_early_exit(ens: Ensemble, threshold: float | None, batch: int = 1) -> Ensemble:
    """``ens`` with the exact early exit (``threshold=None``) or a lossy confidence exit.

    Draws where neither applies are rejected with ``assume``.
    """
    from hypothesis import assume

    from emlc.errors import EmlcError
    from emlc.passes import PASSES
    from emlc.passes.lossy import confidence_exit

    if threshold is None:
        out = PASSES["early_exit"](ens)
    else:
        try:
            out = confidence_exit(ens, threshold, batch)
        except EmlcError:
            out = ens
    assume(out.early_exit is not None)
    return out


def class_indices(ens: Ensemble, labels) -> np.ndarray:
    """Class labels back to class indices (what a C or LLVM ``predict`` returns)."""
    if ens.classes is None:
        return np.asarray(labels)
    index = {c: i for i, c in enumerate(np.asarray(ens.classes).tolist())}
    return np.array([index[c] for c in np.asarray(labels).tolist()])
