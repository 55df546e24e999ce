"""The IR verifier: rejects malformed ensembles with a message naming the defect.

Passes run it before and after they rewrite, the text parser runs it on what it
reads, and backends may assume everything it accepts. Checks are vectorised per
tree (no per-node Python loops), so verifying millions of nodes stays cheap.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from ..errors import IRError
from .ensemble import (
    INPUT_TYPES,
    LEAF_DTYPES,
    THRESHOLD_DTYPES,
    VERIFIED,
    Aggregation,
    Decision,
    Ensemble,
    Link,
    LinkMath,
    Op,
    Task,
    Tree,
)

_COLUMN_DTYPES = {
    "op": "uint8",
    "feature": "int32",
    "default_left": "bool",
    "left": "int32",
    "right": "int32",
    "leaf": "int32",
    "cat": "int32",
}

_columns, _dtype, _shape = attrgetter(*Tree.COLUMNS), attrgetter("dtype"), attrgetter("shape")

_DECISIONS = {
    Task.CLASSIFICATION: {Decision.ARGMAX, Decision.RAW_ARGMAX, Decision.GT_HALF},
    Task.REGRESSION: {Decision.NONE},
    Task.RANKING: {Decision.NONE},
    Task.ANOMALY: {Decision.SIGN},
}

_LINK_PARAMS = {
    Link.IDENTITY: (0,),
    Link.SIGMOID: (0, 1),
    Link.SOFTMAX: (0,),
    Link.EXP: (0,),
    Link.ISOLATION: (2,),
}


def _fail(msg: str) -> None:
    raise IRError(msg)


def verify(ens: Ensemble) -> Ensemble:
    """Return ``ens`` unchanged if it is well formed, else raise :class:`IRError`.

    Every tree's node checks run at once on the concatenated node tables; of all
    defects found the one reported is the first tree's first, in the order the
    checks are listed (column layout, node fields, shape, thresholds, output offset).
    An ensemble once accepted is marked and not checked again (ensembles are immutable:
    loading verifies, and the pass manager verifies what it is given).
    """
    if ens.__dict__.get(VERIFIED):
        return ens
    _verify_header(ens)
    first_bad, layout_error = _verify_layouts(ens)
    forest = _Forest(ens.trees, ens) if first_bad == ens.n_trees else _Forest(ens.trees[:first_bad])
    errors = _node_errors(ens, forest)
    # Shape and threshold checks index through the node fields, so they run only on
    # the trees before the first one with a bad field (which is reported before them).
    fields_ok = forest.head(min((e[0] for e in errors), default=first_bad))
    errors += _shape_errors(fields_ok) + _threshold_errors(ens, fields_ok) + _offset_errors(ens, first_bad)
    if layout_error is not None:
        errors.append((first_bad, _LAYOUT, layout_error))
    if errors:
        _fail(min(errors, key=lambda e: (e[0], e[1]))[2])
    ens.__dict__[VERIFIED] = True
    return ens


class _Forest:
    """Trees' node columns back to back; ``start``/``size`` per tree, ``local`` node numbers."""

    def __init__(self, trees: tuple[Tree, ...], whole: Ensemble | None = None) -> None:
        """``whole``: the ensemble whose trees these all are, to read its cached columns."""
        self.trees = trees
        self.size = whole.node_counts() if whole is not None else np.array([t.n_nodes for t in trees], dtype=np.int64)
        self.start = np.cumsum(self.size) - self.size
        self.n_trees = len(trees)
        self.cols = {
            name: (
                whole.column(name) if whole is not None and trees
                else np.concatenate([getattr(t, name) for t in trees]) if trees else np.zeros(0, np.int64)
            )
            for name in Tree.COLUMNS
        }
        self.tree_of = np.repeat(np.arange(self.n_trees), self.size)
        self.local = np.arange(self.size.sum()) - np.repeat(self.start, self.size)

    def head(self, k: int) -> "_Forest":
        """The first ``k`` trees."""
        return self if k == self.n_trees else _Forest(self.trees[:k])

    def first(self, mask: np.ndarray) -> tuple[int, int] | None:
        """(tree, local node) of the first node where ``mask`` holds, or None."""
        if not mask.any():
            return None
        g = int(np.argmax(mask))
        return int(self.tree_of[g]), int(self.local[g])


# Ranks of the defect kinds within one tree: the first tree's lowest rank is reported.
_LAYOUT, _NODE, _SHAPE, _THRESHOLD, _OFFSET = 0, 100, 200, 300, 400


def _layouts_ok(ens: Ensemble) -> bool:
    """Do all trees have non-empty 1-D columns of one length and the expected dtypes?

    One signature per tree (every column's dtype and shape), compared with the one
    the ensemble wants: the well-formed case, which every pass hits, then costs one
    tuple per tree.
    """
    dtypes = tuple(np.dtype(_COLUMN_DTYPES[name]) if name in _COLUMN_DTYPES else ens.threshold_dtype
                   for name in Tree.COLUMNS)
    if ens.cut_from_columns:  # one dtype per column for all trees: check the columns and tree sizes
        sizes_ok = all(t.n_nodes >= 1 for t in ens.trees)
        return sizes_ok and tuple(ens.column(name).dtype for name in Tree.COLUMNS) == dtypes
    for t in ens.trees:
        shape = t.op.shape
        if len(shape) != 1 or shape[0] < 1:
            return False
        cols = _columns(t)
        if tuple(map(_dtype, cols)) != dtypes or tuple(map(_shape, cols)) != (shape,) * len(cols):
            return False
    return True


def _verify_layouts(ens: Ensemble) -> tuple[int, str | None]:
    """The first tree whose column layout is wrong (or ``n_trees``) and the reason."""
    if _layouts_ok(ens):
        return ens.n_trees, None
    threshold_dtype = ens.threshold_dtype
    wants = [(name, np.dtype(_COLUMN_DTYPES[name]) if name in _COLUMN_DTYPES else None) for name in Tree.COLUMNS]
    for i, tree in enumerate(ens.trees):
        where = f"tree {i}"
        if tree.threshold.dtype != threshold_dtype:
            return i, (
                f"{where}: threshold dtype {tree.threshold.dtype} differs from tree 0's "
                f"{threshold_dtype}; all trees share one threshold dtype"
            )
        n = tree.n_nodes
        if n < 1:
            return i, f"{where}: a tree needs at least one node"
        for name, want in wants:
            col = getattr(tree, name)
            if col.ndim != 1 or col.shape[0] != n:
                return i, f"{where}: column {name} has shape {col.shape}, expected ({n},)"
            if want is not None and col.dtype != want:
                return i, f"{where}: column {name} has dtype {col.dtype}, expected {want}"
    return ens.n_trees, None


def _node_errors(ens: Ensemble, forest: _Forest) -> list[tuple[int | None, int, str]]:
    """Per kind of field defect, its first occurrence as (tree, rank, message)."""
    c = forest.cols
    n_rows, n_sets, n_features = ens.leaves.shape[0], ens.cat_sets.shape[0], ens.n_features
    op, left, right, leaf, cat = c["op"], c["left"], c["right"], c["leaf"], c["cat"]
    n = np.repeat(forest.size, forest.size)
    is_leaf = op == Op.LEAF
    inner = ~is_leaf
    is_cat = op == Op.CAT
    checks = [
        (op > max(Op), None),
        (is_leaf & ((left != -1) | (right != -1)), "a leaf must have no children (-1)"),
        (is_leaf & ((leaf < 0) | (leaf >= n_rows)), f"leaf row out of range [0, {n_rows})"),
        (inner & (leaf != -1), "a decision node must have leaf -1"),
        (inner & ((c["feature"] < 0) | (c["feature"] >= n_features)), f"feature index out of range [0, {n_features})"),
        (inner & ((left < 0) | (left >= n)), "left child out of range [0, {n})"),
        (inner & ((right < 0) | (right >= n)), "right child out of range [0, {n})"),
        (inner & (left == right), "left and right child are the same node"),
        (is_cat & ((cat < 0) | (cat >= n_sets)), f"category set out of range [0, {n_sets})"),
        (~is_cat & (cat != -1), "only categorical nodes may reference a category set"),
    ]
    if c["threshold"].dtype.kind == "f":
        checks.append((inner & np.isnan(c["threshold"]), "NaN threshold"))
    errors = []
    for rank, (mask, msg) in enumerate(checks):
        hit = forest.first(mask)
        if hit is None:
            continue
        tree, node = hit
        if msg is None:
            msg = f"unknown op code {op[forest.start[tree] + node]}"
        errors.append((tree, _NODE + rank, f"tree {tree} node {node}: {msg.format(n=forest.size[tree])}"))
    return errors


def _offset_errors(ens: Ensemble, n_trees: int) -> list[tuple[int | None, int, str]]:
    off = np.asarray(ens.tree_output[:n_trees]).astype(np.int64)
    bad = np.flatnonzero((off < 0) | (off + ens.leaf_width > ens.n_outputs))
    if not bad.size:
        return []
    i = int(bad[0])
    return [(i, _OFFSET, (
        f"tree {i}: output offset {off[i]} plus leaf width {ens.leaf_width} exceeds "
        f"{ens.n_outputs} outputs"
    ))]


def _verify_header(ens: Ensemble) -> None:
    if not isinstance(ens.n_features, (int, np.integer)) or ens.n_features < 1:
        _fail(f"n_features must be a positive integer, got {ens.n_features!r}")
    if ens.n_trees < 1:
        _fail("an ensemble needs at least one tree")
    if ens.n_outputs < 1:
        _fail(f"n_outputs must be positive, got {ens.n_outputs}")
    if ens.input_type not in INPUT_TYPES:
        _fail(f"input type {ens.input_type!r} is not one of {', '.join(INPUT_TYPES)}")
    if ens.accum_dtype not in ("float32", "float64"):
        _fail(f"accumulation dtype {ens.accum_dtype!r} must be float32 or float64")
    if str(ens.threshold_dtype) not in THRESHOLD_DTYPES:
        _fail(f"threshold dtype {ens.threshold_dtype} is not one of {', '.join(THRESHOLD_DTYPES)}")
    tree_output = np.asarray(ens.tree_output)
    if tree_output.shape != (ens.n_trees,) or tree_output.dtype.kind not in "iu":
        _fail(f"tree_output must be an integer array of length {ens.n_trees}, got {tree_output.shape}")
    leaves = ens.leaves
    if leaves.ndim != 2 or leaves.shape[0] < 1 or leaves.shape[1] < 1:
        _fail(f"leaf table must be 2-D with at least one row and column, got shape {leaves.shape}")
    if str(leaves.dtype) not in LEAF_DTYPES:
        _fail(f"leaf dtype {leaves.dtype} is not one of {', '.join(LEAF_DTYPES)}")
    if leaves.dtype.kind == "f" and not np.isfinite(leaves).all():
        row = int(np.argwhere(~np.isfinite(leaves))[0, 0])
        _fail(f"leaf row {row} holds a non-finite value")
    if ens.leaf_scale is not None:
        scale = np.asarray(ens.leaf_scale)
        if scale.shape != (ens.leaf_width,) or not np.isfinite(scale).all():
            _fail(f"leaf_scale must be {ens.leaf_width} finite numbers (one per leaf column)")
        if leaves.dtype.kind == "f":
            _fail("leaf_scale is only meaningful for an integer leaf table")
    base = np.asarray(ens.base_score)
    if base.shape != (ens.n_outputs,) or base.dtype.kind != "f" or not np.isfinite(base).all():
        _fail(f"base_score must be {ens.n_outputs} finite float64 numbers, got shape {base.shape}")
    if ens.decision not in _DECISIONS[ens.task]:
        allowed = ", ".join(sorted(d.value for d in _DECISIONS[ens.task]))
        _fail(f"decision {ens.decision.value} does not fit a {ens.task.value} model (use {allowed})")
    if len(ens.link_params) not in _LINK_PARAMS[ens.link]:
        _fail(f"link {ens.link.value} takes {_LINK_PARAMS[ens.link]} parameters, got {len(ens.link_params)}")
    if not all(np.isfinite(p) for p in ens.link_params):
        _fail("link parameters must be finite")
    if ens.link is Link.ISOLATION and ens.link_math is not LinkMath.NUMPY:
        _fail(f"isolation link has only numpy arithmetic, got link math {ens.link_math.value}")
    if ens.link is Link.ISOLATION and ens.link_params[0] <= 0:
        _fail("isolation link needs a positive normaliser")
    _verify_classes(ens)
    sets = ens.cat_sets
    if sets.ndim != 2 or sets.dtype != np.uint32 or sets.shape[1] < 1:
        _fail(f"cat_sets must be a 2-D uint32 bitset table, got {sets.dtype} {sets.shape}")
    if ens.feature_ranks and len(ens.feature_ranks) != ens.n_features:
        _fail(f"feature_ranks has {len(ens.feature_ranks)} entries for {ens.n_features} features")
    for f, rank in enumerate(ens.feature_ranks):
        if rank is None:
            continue
        e = rank.edges
        if e.ndim != 1 or e.dtype != np.float64 or np.isnan(e).any() or (np.diff(e) <= 0).any():
            _fail(f"feature {f}: rank edges must be strictly increasing float64 numbers")
    if ens.feature_names and len(ens.feature_names) != ens.n_features:
        _fail(f"{len(ens.feature_names)} feature names for {ens.n_features} features")
    if ens.early_exit is not None:
        _verify_early_exit(ens)


def _verify_early_exit(ens: Ensemble) -> None:
    ee = ens.early_exit
    if ens.task is not Task.CLASSIFICATION:
        _fail("early exit needs a classifier")
    if ens.aggregation is Aggregation.VOTE:
        _fail("early exit bounds apply to summed or averaged leaves, not votes (rewrite votes as a mean first)")
    cp = np.asarray(ee.checkpoints)
    if cp.ndim != 1 or cp.dtype.kind not in "iu" or (cp.size and (cp[0] < 1 or cp[-1] >= ens.n_trees)):
        _fail(f"early-exit check points must be integers in [1, {ens.n_trees})")
    if (np.diff(cp) <= 0).any():
        _fail("early-exit check points must be strictly increasing")
    want = "int64" if ens.leaves.dtype.kind in "iu" else ens.accum_dtype
    for name in ("lower", "upper"):
        b = getattr(ee, name)
        if b.shape != (cp.size, ens.n_outputs) or b.dtype != np.dtype(want):
            _fail(f"early-exit {name} bounds must be {want} of shape ({cp.size}, {ens.n_outputs})")
        if b.dtype.kind == "f" and not np.isfinite(b).all():
            _fail(f"early-exit {name} bounds must be finite")
    if not 0 < ee.confidence <= 1:
        _fail(f"early-exit confidence must be in (0, 1], got {ee.confidence}")


def _verify_classes(ens: Ensemble) -> None:
    if ens.task is not Task.CLASSIFICATION:
        if ens.aggregation is Aggregation.VOTE:
            _fail("vote aggregation needs a classifier")
        return
    k = ens.n_classes
    if k < 2:
        _fail(f"a classifier needs at least 2 class labels, got {k}")
    expected = 1 if k == 2 and ens.n_outputs == 1 else k
    if ens.n_outputs != expected:
        _fail(f"{k} classes need {k} outputs (or 1 for a binary classifier), got {ens.n_outputs}")
    if ens.decision is Decision.GT_HALF and ens.n_outputs != 1:
        _fail("decision gt_half needs a single-output binary classifier")
    if ens.aggregation is Aggregation.VOTE and ens.n_outputs != k:
        _fail("vote aggregation needs one output per class")


def _shape_errors(forest: _Forest) -> list[tuple[int, int, str]]:
    """Every node reachable from its root, no cycles (Kahn's algorithm, one level at a time)."""
    c = forest.cols
    inner = c["op"] != Op.LEAF
    base = np.repeat(forest.start, forest.size)
    left = np.where(inner, c["left"] + base, -1)
    right = np.where(inner, c["right"] + base, -1)
    indegree = np.bincount(np.concatenate([left[inner], right[inner]]), minlength=c["op"].size)
    errors = []
    root_has_parent = indegree[forest.start] > 0
    if root_has_parent.any():
        t = int(np.argmax(root_has_parent))
        tree = forest.trees[t]
        parents = np.concatenate([np.flatnonzero((tree.op != Op.LEAF) & (tree.left == 0)),
                                  np.flatnonzero((tree.op != Op.LEAF) & (tree.right == 0))])
        errors.append((t, _SHAPE, f"tree {t}: the root (node 0) is a child of node {parents[0]}; this makes a cycle"))
    orphan = forest.first((indegree == 0) & (forest.local != 0))
    if orphan is not None:
        errors.append((orphan[0], _SHAPE + 1, f"tree {orphan[0]} node {orphan[1]}: unreachable from the root"))
    # A tree whose every child is numbered after its parent has no cycle, so the walk
    # runs only on the others: a stuck node elsewhere has an orphan above it, reported first.
    backward = inner & ((left <= np.arange(left.size)) | (right <= np.arange(left.size)))
    walk = np.zeros(forest.n_trees, dtype=bool)
    walk[forest.tree_of[backward]] = True
    remaining = np.where(walk[forest.tree_of], indegree, 0)
    shared = indegree > 1  # only these can appear twice among one level's children
    frontier = forest.start[walk]
    while frontier.size:
        split = frontier[inner[frontier]]
        if not split.size:
            break
        children = np.concatenate([left[split], right[split]])
        twice = shared[children]
        if twice.any():
            multi, counts = np.unique(children[twice], return_counts=True)
            remaining[multi] -= counts
            children = children[~twice]
        remaining[children] -= 1
        frontier = children[remaining[children] == 0]
        if twice.any():
            frontier = np.concatenate([frontier, multi[remaining[multi] == 0]])
    stuck = forest.first(remaining > 0)
    if stuck is not None:
        errors.append((stuck[0], _SHAPE + 2, f"tree {stuck[0]} node {stuck[1]}: part of a cycle"))
    return errors


def _threshold_errors(ens: Ensemble, forest: _Forest) -> list[tuple[int, int, str]]:
    c = forest.cols
    op = c["op"]
    compare = (op == Op.LE) | (op == Op.LT)
    ranked = np.array(
        [r is not None for r in ens.feature_ranks] or [False] * ens.n_features, dtype=bool
    )
    feat = np.where(compare, c["feature"], 0)
    on_ranked = compare & ranked[feat]
    checks = []
    if on_ranked.any():
        sizes = np.array([0 if r is None else r.edges.size for r in ens.feature_ranks])
        t = c["threshold"].astype(np.float64)
        outside = (t != np.round(t)) | (t < 0) | (t > sizes[feat])
        checks.append((on_ranked & outside, "rank threshold outside the feature's rank range"))
        checks.append((on_ranked & (op == Op.LT), "a ranked feature is compared with <=, not <"))
    if c["threshold"].dtype.kind in "iu" and ens.input_type.startswith("float"):
        checks.append((
            compare & ~on_ranked,
            "integer threshold on an unranked float feature; integer thresholds need integer inputs or feature ranks",
        ))
    errors = []
    for rank, (mask, msg) in enumerate(checks):
        hit = forest.first(mask)
        if hit is not None:
            errors.append((hit[0], _THRESHOLD + rank, f"tree {hit[0]} node {hit[1]}: {msg}"))
    return errors
