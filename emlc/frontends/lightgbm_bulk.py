"""LightGBM's big-model fast paths: every tree parsed, and lowered, in numpy steps.

Each gives exactly what the per-tree code in :mod:`.lightgbm` gives (that code states
the rules and is the test oracle): :func:`parse_forest` what :func:`~.lightgbm.text_tree`
parses, :func:`lower_forest` what :func:`~.lightgbm.lower_trees` builds, from the same
:func:`~.lightgbm.numerical_rule` and :func:`~.lightgbm.numerical_nodes`. Anything
irregular (and so every error) goes through the per-tree code.

Kept because bench/bench_scale.py shows them: on 2,000 trees of 63 leaves the per-tree
parser instead costs 13% more compile time and the per-node lowering 46% more.
"""

from __future__ import annotations

import numpy as np

from ..errors import EmlcError
from ..ir.ensemble import Tree
from .lightgbm import (
    _CATEGORICAL,
    INT32,
    TO_LEFT,
    TO_RIGHT,
    LgbForest,
    Section,
    leaf_count,
    lower_tree,
    numerical_nodes,
    numerical_rule,
    text_tree,
)
from .treebuild import Tables

# ---------------------------------------------------------------- parsing

#: characters of the numbers LightGBM writes; anything else goes through the per-tree parser.
_NUMBER_CHARS = {np.int64: b"0123456789- ", np.float64: b"0123456789.-+eE "}


def parse_forest(sections: list[Section]) -> LgbForest | None:
    """The trees' arrays, each key parsed for all trees at once, or None when some text is
    irregular (then :func:`~.lightgbm.text_tree` judges one tree at a time)."""
    try:
        n_leaves = [leaf_count(values, where) for values, where in sections]
    except EmlcError:
        return None
    leaves = np.array(n_leaves, dtype=np.int64)
    splitting = [v for (v, _), n in zip(sections, n_leaves) if n > 1]
    cols = {"leaf_value": _numbers([v for v, _ in sections], "leaf_value", leaves, np.float64)}
    for name in LgbForest.SPLIT_COLUMNS:
        cols[name] = _numbers(splitting, name, leaves[leaves > 1] - 1, np.float64 if name == "threshold" else np.int64)
    if any(c is None for c in cols.values()):
        return None
    forest = LgbForest(n_splits=leaves - 1, n_leaves=leaves, **cols, categories={}, where=[w for _, w in sections])
    for i, (values, where) in enumerate(sections):
        if "num_cat" in values and values["num_cat"][0] != "0":
            forest.categories[i] = text_tree(values, where).categories
    return forest


def _numbers(sections: list[dict], key: str, counts: np.ndarray, dtype: type) -> np.ndarray | None:
    """``key``'s values of all ``sections`` as one array, or None unless each holds exactly
    ``counts[i]`` plain numbers separated by single spaces."""
    try:
        texts = [v[key][0] for v in sections]
    except KeyError:
        return None
    if [t.count(" ") + 1 for t in texts] != counts.tolist():
        return None
    joined = " ".join(texts)
    if joined.encode().translate(None, _NUMBER_CHARS[dtype]):
        return None
    try:
        out = _few_distinct(joined) if key in _BINNED else None
        if out is None:
            out = np.fromstring(joined, dtype=dtype, sep=" ") if joined else np.zeros(0, dtype)
    except ValueError:  # a token that is not a number
        return None
    # Fewer values than single spaces: an empty token. Integers outside 32 bits (int64
    # saturates instead of failing) are for the per-tree parser to report.
    if out.size != counts.sum() or (dtype is np.int64 and out.size and not INT32[0] <= out.min() <= out.max() < INT32[1]):
        return None
    return out


#: columns whose values repeat: LightGBM's thresholds are bin bounds, a few hundred per feature.
_BINNED = ("threshold",)


def _few_distinct(joined: str) -> np.ndarray | None:
    """The float64 numbers of ``joined`` (single spaces between them), each distinct token
    parsed once, or None when fewer than half the tokens repeat (parsing dominates loading
    big models; every value is still the correctly rounded double of its token)."""
    tokens = joined.split(" ")
    distinct = dict.fromkeys(tokens)
    if len(distinct) * 2 > len(tokens) or "" in distinct:
        return None
    values = np.fromstring(" ".join(distinct), dtype=np.float64, sep=" ")
    if values.size != len(distinct):
        return None
    index = dict(zip(distinct, range(len(distinct))))
    return values[np.fromiter(map(index.__getitem__, tokens), dtype=np.int64, count=len(tokens))]


# ---------------------------------------------------------------- lowering


def lower_forest(
    forest: LgbForest, n_features: int,
) -> tuple[tuple[Tree, ...], np.ndarray, np.ndarray, dict[str, np.ndarray] | None]:
    """:func:`~.lightgbm.lower_trees`' trees, leaf table and category bitsets and, when every
    tree was lowered in numpy steps, the trees' node columns back to back.

    Trees of numerical splits are lowered together in numpy steps; trees with categorical
    splits or corrupt references go through :func:`~.lightgbm.lower_tree`, which reports
    what is wrong. Both give the same IR: nodes in preorder of the source splits, a
    split's guard nodes first, leaf rows in the order leaves are reached.
    """
    links = _links(forest)
    fast, levels = _numerical_trees(forest, n_features, links)
    slow: dict[int, tuple[Tree, Tables]] = {}
    for i in np.flatnonzero(~fast).tolist():
        tables = Tables()
        slow[i] = (lower_tree(forest.tree(i), n_features, tables), tables)
    rows = forest.n_leaves.copy()
    for i, (_, tables) in slow.items():
        rows[i] = len(tables.leaf_rows)
    first_row = np.cumsum(rows) - rows
    columns, node_start, values, value_rows = _lower_numerical(forest, fast, levels, first_row, links)
    leaves = np.zeros((int(rows.sum()), 1))
    leaves[value_rows, 0] = values
    sets = Tables()
    cut = Tree.cut(columns, np.diff(node_start).tolist())
    if not slow:
        return tuple(cut), leaves, sets.cat_sets(), columns
    trees: list[Tree] = []
    for i, ok in enumerate(fast.tolist()):
        if ok:
            trees.append(cut[i])
            continue
        tree, tables = slow[i]
        if tables.leaf_rows:
            leaves[first_row[i] : first_row[i] + rows[i], 0] = np.asarray(tables.leaf_rows, dtype=np.float64)[:, 0]
        shift_row, shift_set = int(first_row[i]), len(sets.sets)
        sets.sets.extend(tables.sets)
        trees.append(tree.replace(
            leaf=np.where(tree.leaf >= 0, tree.leaf + shift_row, -1).astype(np.int32),
            cat=np.where(tree.cat >= 0, tree.cat + shift_set, -1).astype(np.int32),
        ))
    return tuple(trees), leaves, sets.cat_sets(), None


def _numerical_trees(
    forest: LgbForest, n_features: int, links: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per tree: no categorical split, every reference in range and the splits form a tree;
    and the nodes of those trees level by level (see :func:`_levels`). ``links``: what
    :func:`_links` gives, if known."""
    n, n_leaves = forest.n_splits, forest.n_leaves
    of_split, lg, rg = links or _links(forest)
    ns, nl = n[of_split], n_leaves[of_split]
    f, lc, rc = forest.split_feature, forest.left_child, forest.right_child
    bad = ((forest.decision_type & _CATEGORICAL) != 0) | (f < 0) | (f >= n_features)
    bad |= (lc < -nl) | (lc >= ns) | (rc < -nl) | (rc >= ns)
    fast = n_leaves == n + 1
    fast[of_split[bad]] = False
    # Each node but the root has one parent; with that, reaching every node rules out cycles.
    ok = fast[of_split]
    total = int(n.sum() + n_leaves.sum())
    parents = np.bincount(np.concatenate([lg[ok], rg[ok]]), minlength=total)
    roots = _roots(forest)
    want = np.ones(total, dtype=np.int64)
    want[roots] = 0
    of_node = np.concatenate([of_split, np.repeat(np.arange(len(forest)), n_leaves)])
    fast[of_node[parents != want]] = False
    reached = np.zeros(total, dtype=bool)
    levels = _levels(forest, fast, lg, rg)
    for level in levels:
        reached[level] = True
    fast[of_node[~reached]] = False
    return fast, levels  # nodes of trees found unreachable here are listed but never used


def _links(forest: LgbForest) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each split's tree, and its children as forest-wide node numbers: splits first, then
    leaves (references may be corrupt)."""
    of_split = np.repeat(np.arange(len(forest)), forest.n_splits)
    s_start, l_start, total_splits = forest.split_start[of_split], forest.leaf_start[of_split], int(forest.n_splits.sum())

    def glob(c: np.ndarray) -> np.ndarray:
        return np.where(c >= 0, s_start + c, total_splits + l_start + ~c)

    return of_split, glob(forest.left_child), glob(forest.right_child)


def _roots(forest: LgbForest) -> np.ndarray:
    return np.where(forest.n_splits > 0, forest.split_start, int(forest.n_splits.sum()) + forest.leaf_start)


def _levels(forest: LgbForest, fast: np.ndarray, lg: np.ndarray, rg: np.ndarray) -> list[np.ndarray]:
    """The ``fast`` trees' nodes level by level from the roots (forest-wide numbers; children
    ``lg``/``rg`` from :func:`_links`)."""
    total_splits = lg.size
    levels = []
    frontier = _roots(forest)[fast]
    while frontier.size:
        levels.append(frontier)
        split = frontier[frontier < total_splits]
        frontier = np.concatenate([lg[split], rg[split]])
    return levels


def _lower_numerical(
    forest: LgbForest, fast: np.ndarray, levels: list[np.ndarray], first_row: np.ndarray,
    links: tuple[np.ndarray, np.ndarray, np.ndarray],
):
    """The ``fast`` trees' IR columns back to back, each tree's first node, and the leaf
    values with their rows of the leaf table (tree ``i``'s rows from ``first_row[i]``)."""
    n_trees, total_splits = len(forest), int(forest.n_splits.sum())
    of_split, lg, rg = links
    of_node = np.concatenate([of_split, np.repeat(np.arange(n_trees), forest.n_leaves)])
    t, f = forest.threshold, forest.split_feature
    band_left, nan_left, guarded = numerical_rule(forest.decision_type, t)
    widths = [len(numerical_nodes(0.0, False, False, g)) for g in (False, True)]
    # IR nodes per source node (a guarded split emits outer, band and compare nodes) and
    # leaves per subtree, bottom-up; then each node's preorder position and leaf rank.
    total = of_node.size
    width = np.ones(total, dtype=np.int64)
    width[:total_splits] = np.where(guarded, widths[1], widths[0])
    size, n_below = width.copy(), np.zeros(total, dtype=np.int64)
    n_below[total_splits:] = 1
    for level in reversed(levels):
        s = level[level < total_splits]
        size[s] += size[lg[s]] + size[rg[s]]
        n_below[s] = n_below[lg[s]] + n_below[rg[s]]
    pos, rank = np.zeros(total, dtype=np.int64), np.zeros(total, dtype=np.int64)
    for level in levels:
        s = level[level < total_splits]
        pos[lg[s]] = pos[s] + width[s]
        pos[rg[s]] = pos[s] + width[s] + size[lg[s]]
        rank[lg[s]] = rank[s]
        rank[rg[s]] = rank[s] + n_below[lg[s]]
    n_nodes = np.where(fast, size[_roots(forest)], 0)
    node_start = np.concatenate([[0], np.cumsum(n_nodes)])
    at = node_start[of_node] + pos  # each source node's first IR node, ensemble-wide
    n = int(node_start[-1])
    cols = {
        "op": np.zeros(n, dtype=np.uint8), "feature": np.full(n, -1, dtype=np.int32),
        "threshold": np.zeros(n), "default_left": np.zeros(n, dtype=bool),
        "left": np.full(n, -1, dtype=np.int32), "right": np.full(n, -1, dtype=np.int32),
        "leaf": np.full(n, -1, dtype=np.int32), "cat": np.full(n, -1, dtype=np.int32),
    }
    use = fast[of_node]
    leaf = np.flatnonzero(use[total_splits:]) + total_splits
    leaf_rows = first_row[of_node[leaf]] + rank[leaf]
    cols["leaf"][at[leaf]] = leaf_rows
    values = forest.leaf_value[leaf - total_splits]

    def put(nodes, offset, op, threshold, dl, left, right) -> None:
        where = at[nodes] + offset
        cols["op"][where], cols["feature"][where] = op, f[nodes]
        cols["threshold"][where], cols["default_left"][where] = threshold, dl
        cols["left"][where], cols["right"][where] = left, right

    split = np.flatnonzero(use[:total_splits])
    for g in (False, True):
        nodes = split[guarded[split] == g]
        p, lo, hi = pos[nodes], pos[lg[nodes]], pos[rg[nodes]]
        for k, (op, threshold, dl, *children) in enumerate(
            numerical_nodes(t[nodes], band_left[nodes], nan_left[nodes], g)
        ):
            left, right = (np.where(c == TO_LEFT, lo, np.where(c == TO_RIGHT, hi, p + c)) for c in children)
            put(nodes, k, op, threshold, dl, left, right)
    return cols, node_start.tolist(), values, leaf_rows


