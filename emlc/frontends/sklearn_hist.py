"""HistGradientBoosting lowering, including its categorical splits.

HistGradientBoosting predicts on float64 inputs (``input_type`` float64) and routes
NaN by ``missing_go_to_left``. Categorical features first pass through an internal
``OrdinalEncoder`` (columns reordered: categorical ones first): a training category
becomes its code, anything else (NaN, negative, fractional or unseen values)
becomes NaN and follows the missing side. Trees then send a code left when its bit
is set in ``raw_left_cat_bitsets``.

Exact equality with training categories cannot be tested by ``trunc(x)`` (2.5 is
not category 2), so each categorical feature gets a :class:`FeatureRank` over the
edges ``{k, nextafter(k, +inf)}`` of its categories ``k``: with ``strict`` ranks,
``x == k`` has its own rank and every value between categories shares a rank with
no category. The CAT bitset is then written over ranks: a rank holding a category
takes the tree's decision for it, every other rank goes to the missing side.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import EmlcError
from ..ir.ensemble import Aggregation, Decision, Ensemble, FeatureRank, Op, Task, Tree
from .sklearn import common_fields, link_of


def lower_hist_gradient_boosting(estimator: Any) -> Ensemble:
    columns, categories = _input_columns(estimator)
    known, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
    ranks = {f: _rank_of(c) for f, c in categories.items()}

    def category_set(node: np.void, raw_left: np.ndarray) -> np.ndarray:
        internal = int(node["feature_idx"])
        _, code_of_rank = ranks[int(columns[internal])]
        n_codes = len(categories[int(columns[internal])])
        return _rank_set(
            code_of_rank,
            _bits(raw_left[node["bitset_idx"]], n_codes),
            _bits(known[f_idx_map[internal]], n_codes),
            bool(node["missing_go_to_left"]),
        )

    built, rows, outputs, sets = [], [], [], []
    offset = 0
    for iteration in estimator._predictors:
        for out, predictor in enumerate(iteration):
            tree, leaf_rows = _lower_predictor(predictor, columns, offset, sets, category_set)
            built.append(tree)
            rows.append(leaf_rows)
            outputs.append(out)
            offset += leaf_rows.shape[0]
    k = int(estimator.n_trees_per_iteration_)
    fields = dict(
        trees=tuple(built),
        tree_output=np.asarray(outputs, dtype=np.int32),
        leaves=np.concatenate(rows).astype(np.float64)[:, None],
        n_outputs=k,
        aggregation=Aggregation.SUM,
        base_score=np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(k),
        input_type="float64",
        cat_sets=_pack(sets),
        **common_fields(estimator),
    )
    used = {int(f) for t in built for f in t.feature[t.op == Op.CAT]}
    if used:
        fields["feature_ranks"] = tuple(
            FeatureRank(ranks[f][0], strict=True) if f in used else None
            for f in range(fields["n_features"])
        )
    link, params, math = link_of(estimator)
    if hasattr(estimator, "classes_"):
        # Binary predict is ``raw > 0``; ``p > 1 - p`` agrees except for 0 < raw < ~1e-16.
        decision = Decision.ARGMAX if k == 1 else Decision.RAW_ARGMAX
        return Ensemble(
            task=Task.CLASSIFICATION,
            link=link,
            link_params=params,
            link_math=math,
            decision=decision,
            classes=np.asarray(estimator.classes_),
            **fields,
        )
    return Ensemble(task=Task.REGRESSION, link=link, link_params=params, link_math=math, **fields)


def _lower_predictor(
    predictor: Any,
    columns: np.ndarray,
    first_row: int,
    sets: list[np.ndarray],
    category_set: Callable[[np.void, np.ndarray], np.ndarray],
) -> tuple[Tree, np.ndarray]:
    """One ``TreePredictor`` as an IR tree (node numbering kept) and its leaf values."""
    nodes = predictor.nodes
    is_leaf = nodes["is_leaf"].astype(bool)
    is_cat = nodes["is_categorical"].astype(bool) & ~is_leaf
    cat = np.full(nodes.shape[0], -1, dtype=np.int64)
    for i in np.flatnonzero(is_cat):
        cat[i] = len(sets)
        sets.append(category_set(nodes[i], predictor.raw_left_cat_bitsets))
    leaf_nodes = np.flatnonzero(is_leaf)
    leaf = np.full(nodes.shape[0], -1, dtype=np.int64)
    leaf[leaf_nodes] = first_row + np.arange(leaf_nodes.size)
    tree = Tree.build(
        op=np.where(is_leaf, Op.LEAF, np.where(is_cat, Op.CAT, Op.LE)),
        feature=np.where(is_leaf, -1, columns[np.where(is_leaf, 0, nodes["feature_idx"])]),
        threshold=np.where(is_leaf | is_cat, 0.0, nodes["num_threshold"]),
        default_left=nodes["missing_go_to_left"].astype(bool) & ~is_leaf,
        left=np.where(is_leaf, -1, nodes["left"].astype(np.int64)),
        right=np.where(is_leaf, -1, nodes["right"].astype(np.int64)),
        leaf=leaf,
        cat=cat,
    )
    return tree, nodes["value"][leaf_nodes]


def _input_columns(estimator: Any) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Model column of each internal column, and each categorical column's categories."""
    n = int(estimator.n_features_in_)
    pre = getattr(estimator, "_preprocessor", None)
    if pre is None:
        if getattr(estimator, "is_categorical_", None) is not None and estimator.is_categorical_.any():
            raise EmlcError(
                "this HistGradientBoosting model was fitted by an older scikit-learn that kept no "
                "encoder for its categorical features; refit it with the installed scikit-learn"
            )
        return np.arange(n), {}
    columns = np.zeros(n, dtype=np.int64)
    categories: dict[int, np.ndarray] = {}
    for name, transformer, selection in pre.transformers_:
        if name == "remainder" and transformer == "drop":
            continue
        selection = np.asarray(selection)
        source = np.flatnonzero(selection) if selection.dtype == bool else selection
        columns[pre.output_indices_[name]] = source
        if name == "encoder":
            for f, cats in zip(source, transformer.categories_):
                categories[int(f)] = _numeric_categories(cats, estimator, int(f))
    return columns, categories


def _numeric_categories(cats: np.ndarray, estimator: Any, f: int) -> np.ndarray:
    if cats.dtype.kind not in "fiub":
        names = getattr(estimator, "feature_names_in_", None)
        label = repr(str(names[f])) if names is not None else f"at index {f}"
        raise EmlcError(
            f"categorical feature {label} has non-numeric categories; emlc models take numbers: "
            f"encode the categories as numbers before fitting"
        )
    cats = cats.astype(np.float64)
    return cats[~np.isnan(cats)]


def _rank_of(categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank edges for a categorical feature, and the category code each rank stands for (-1: none)."""
    edges = np.unique(np.concatenate([categories, np.nextafter(categories, np.inf)]))
    if not categories.size:
        return edges, np.full(1, -1, dtype=np.int64)
    code_of_rank = np.full(edges.size + 1, -1, dtype=np.int64)
    # strict rank r holds edges[r-1] <= x < edges[r]: exactly one category when edges[r-1] is one.
    pos = np.searchsorted(categories, edges)
    is_cat = (pos < categories.size) & (categories[np.minimum(pos, categories.size - 1)] == edges)
    code_of_rank[1:][is_cat] = pos[is_cat]
    return edges, code_of_rank


def _bits(words: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` bits of a uint32 bitset as booleans."""
    idx = np.arange(n)
    return ((np.asarray(words, dtype=np.int64)[idx // 32] >> (idx % 32)) & 1).astype(bool)


def _rank_set(
    code_of_rank: np.ndarray, left: np.ndarray, known: np.ndarray, missing_left: bool
) -> np.ndarray:
    """Which ranks go left: a category's own decision, unknown values the missing side."""
    has = code_of_rank >= 0
    code = np.where(has, code_of_rank, 0)
    return np.where(has, left[code] | (~known[code] & missing_left), missing_left)


def _pack(sets: list[np.ndarray]) -> np.ndarray:
    """Boolean rank sets as rows of a uint32 bitset table, bit ``r`` in word ``r // 32``."""
    if not sets:
        return np.zeros((0, 1), dtype=np.uint32)
    words = max(1, max((s.size + 31) // 32 for s in sets))
    table = np.zeros((len(sets), words), dtype=np.uint32)
    for i, s in enumerate(sets):
        r = np.flatnonzero(s)
        np.bitwise_or.at(table[i], r // 32, (np.uint32(1) << (r % 32).astype(np.uint32)))
    return table
