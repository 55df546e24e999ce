"""The IR verifier: rejects malformed ensembles with a message naming the defect.

Passes run it before and after they rewrite, the text parser runs it on what it
reads, and backends may assume everything it accepts. Checks are vectorised per
tree (no per-node Python loops), so verifying millions of nodes stays cheap.
"""

from __future__ import annotations

import numpy as np

from ..errors import IRError
from .ensemble import (
    INPUT_TYPES,
    LEAF_DTYPES,
    THRESHOLD_DTYPES,
    Aggregation,
    Decision,
    Ensemble,
    Link,
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
    """Return ``ens`` unchanged if it is well formed, else raise :class:`IRError`."""
    _verify_header(ens)
    n_sets = ens.cat_sets.shape[0]
    n_rows = ens.leaves.shape[0]
    threshold_dtype = ens.threshold_dtype
    ranked = np.array(
        [r is not None for r in ens.feature_ranks] or [False] * ens.n_features, dtype=bool
    )
    for i, tree in enumerate(ens.trees):
        where = f"tree {i}"
        if tree.threshold.dtype != threshold_dtype:
            _fail(
                f"{where}: threshold dtype {tree.threshold.dtype} differs from tree 0's "
                f"{threshold_dtype}; all trees share one threshold dtype"
            )
        _verify_tree(tree, where, ens.n_features, n_rows, n_sets)
        _verify_thresholds(ens, tree, where, ranked)
        off = int(ens.tree_output[i])
        if off < 0 or off + ens.leaf_width > ens.n_outputs:
            _fail(
                f"{where}: output offset {off} plus leaf width {ens.leaf_width} exceeds "
                f"{ens.n_outputs} outputs"
            )
    return ens


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


def _verify_tree(tree: Tree, where: str, n_features: int, n_rows: int, n_sets: int) -> None:
    n = tree.n_nodes
    if n < 1:
        _fail(f"{where}: a tree needs at least one node")
    for name in Tree.COLUMNS:
        col = getattr(tree, name)
        if col.ndim != 1 or col.shape[0] != n:
            _fail(f"{where}: column {name} has shape {col.shape}, expected ({n},)")
        want = _COLUMN_DTYPES.get(name)
        if want is not None and col.dtype != np.dtype(want):
            _fail(f"{where}: column {name} has dtype {col.dtype}, expected {want}")
    op = tree.op
    bad = np.flatnonzero(op > max(Op))
    if bad.size:
        _fail(f"{where} node {bad[0]}: unknown op code {op[bad[0]]}")
    leaf = op == Op.LEAF
    inner = ~leaf

    def first(mask: np.ndarray, msg: str) -> None:
        idx = np.flatnonzero(mask)
        if idx.size:
            _fail(f"{where} node {idx[0]}: {msg}")

    first(leaf & ((tree.left != -1) | (tree.right != -1)), "a leaf must have no children (-1)")
    first(leaf & ((tree.leaf < 0) | (tree.leaf >= n_rows)), f"leaf row out of range [0, {n_rows})")
    first(inner & (tree.leaf != -1), "a decision node must have leaf -1")
    first(inner & ((tree.feature < 0) | (tree.feature >= n_features)), f"feature index out of range [0, {n_features})")
    first(inner & ((tree.left < 0) | (tree.left >= n)), f"left child out of range [0, {n})")
    first(inner & ((tree.right < 0) | (tree.right >= n)), f"right child out of range [0, {n})")
    first(inner & (tree.left == tree.right), "left and right child are the same node")
    is_cat = op == Op.CAT
    first(is_cat & ((tree.cat < 0) | (tree.cat >= n_sets)), f"category set out of range [0, {n_sets})")
    first(~is_cat & (tree.cat != -1), "only categorical nodes may reference a category set")
    if tree.threshold.dtype.kind == "f":
        first(inner & np.isnan(tree.threshold), "NaN threshold")
    _verify_shape(tree, where)


def _verify_shape(tree: Tree, where: str) -> None:
    """Every node reachable from the root, no cycles (Kahn's algorithm, one level at a time)."""
    n = tree.n_nodes
    inner = tree.op != Op.LEAF
    src = np.concatenate([np.flatnonzero(inner), np.flatnonzero(inner)])
    dst = np.concatenate([tree.left[inner], tree.right[inner]]).astype(np.int64)
    indegree = np.bincount(dst, minlength=n)
    if indegree[0]:
        _fail(f"{where}: the root (node 0) is a child of node {src[np.flatnonzero(dst == 0)[0]]}; this makes a cycle")
    orphans = np.flatnonzero(indegree[1:] == 0) + 1
    if orphans.size:
        _fail(f"{where} node {orphans[0]}: unreachable from the root")
    order = np.argsort(src, kind="stable")
    src_sorted, dst_sorted = src[order], dst[order]
    starts = np.searchsorted(src_sorted, np.arange(n))
    ends = np.searchsorted(src_sorted, np.arange(n), side="right")
    remaining = indegree.copy()
    frontier = np.array([0])
    seen = 0
    while frontier.size:
        seen += frontier.size
        counts = ends[frontier] - starts[frontier]
        if counts.sum() == 0:
            break
        idx = np.repeat(starts[frontier], counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        children = dst_sorted[idx]
        np.subtract.at(remaining, children, 1)
        uniq = np.unique(children)
        frontier = uniq[remaining[uniq] == 0]
    if seen != n:
        stuck = np.flatnonzero(remaining > 0)
        _fail(f"{where} node {stuck[0]}: part of a cycle")


def _verify_thresholds(ens: Ensemble, tree: Tree, where: str, ranked: np.ndarray) -> None:
    inner = (tree.op == Op.LE) | (tree.op == Op.LT)
    if not inner.any():
        return
    feat = tree.feature[inner]
    thr = tree.threshold[inner]
    on_ranked = ranked[feat]
    if on_ranked.any():
        sizes = np.array([0 if r is None else r.edges.size for r in ens.feature_ranks])
        t = thr[on_ranked].astype(np.float64)
        bad = (t != np.round(t)) | (t < 0) | (t > sizes[feat[on_ranked]])
        if bad.any():
            node = np.flatnonzero(inner)[np.flatnonzero(on_ranked)[np.flatnonzero(bad)[0]]]
            _fail(f"{where} node {node}: rank threshold outside the feature's rank range")
        lt = (tree.op[inner] == Op.LT) & on_ranked
        if lt.any():
            node = np.flatnonzero(inner)[np.flatnonzero(lt)[0]]
            _fail(f"{where} node {node}: a ranked feature is compared with <=, not <")
    if tree.threshold.dtype.kind in "iu" and ens.input_type.startswith("float"):
        unranked = ~on_ranked
        if unranked.any():
            node = np.flatnonzero(inner)[np.flatnonzero(unranked)[0]]
            _fail(
                f"{where} node {node}: integer threshold on an unranked float feature; "
                "integer thresholds need integer inputs or feature ranks"
            )
