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

from typing import Any

import numpy as np

from ..errors import EmlcError
from ..ir.ensemble import Aggregation, Decision, Ensemble, FeatureRank, Op, Task, Tree
from .sklearn import _common, link_of


def lower_hist_gradient_boosting(estimator: Any) -> Ensemble:
    columns, categories = _input_columns(estimator)
    known, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
    ranks = {f: _rank_of(categories[f]) for f in categories}
    built, rows, outputs, sets = [], [], [], []
    used: set[int] = set()
    offset = 0
    for iteration in estimator._predictors:
        for out, predictor in enumerate(iteration):
            nodes = predictor.nodes
            is_leaf = nodes["is_leaf"].astype(bool)
            is_cat = nodes["is_categorical"].astype(bool) & ~is_leaf
            feature = columns[np.where(is_leaf, 0, nodes["feature_idx"])]
            cat = np.full(nodes.shape[0], -1, dtype=np.int64)
            for node in np.flatnonzero(is_cat):
                f = int(nodes["feature_idx"][node])
                edges, code_of_rank = ranks[int(columns[f])]
                cat[node] = len(sets)
                sets.append(
                    _rank_set(
                        code_of_rank,
                        _bits(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][node]], len(categories[int(columns[f])])),
                        _bits(known[f_idx_map[f]], len(categories[int(columns[f])])),
                        bool(nodes["missing_go_to_left"][node]),
                    )
                )
                used.add(int(columns[f]))
            leaf_nodes = np.flatnonzero(is_leaf)
            leaf = np.full(nodes.shape[0], -1, dtype=np.int64)
            leaf[leaf_nodes] = offset + np.arange(leaf_nodes.size)
            op = np.where(is_leaf, Op.LEAF, np.where(is_cat, Op.CAT, Op.LE))
            built.append(
                Tree.build(
                    op=op,
                    feature=np.where(is_leaf, -1, feature),
                    threshold=np.where(is_leaf | is_cat, 0.0, nodes["num_threshold"]),
                    default_left=nodes["missing_go_to_left"].astype(bool) & ~is_leaf,
                    left=np.where(is_leaf, -1, nodes["left"].astype(np.int64)),
                    right=np.where(is_leaf, -1, nodes["right"].astype(np.int64)),
                    leaf=leaf,
                    cat=cat,
                )
            )
            rows.append(nodes["value"][leaf_nodes])
            outputs.append(out)
            offset += leaf_nodes.size
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
        **_common(estimator),
    )
    n = fields["n_features"]
    if used:
        fields["feature_ranks"] = tuple(
            FeatureRank(ranks[f][0], strict=True) if f in used else None for f in range(n)
        )
    link, params = link_of(estimator)
    if hasattr(estimator, "classes_"):
        # Binary predict is ``raw > 0``; ``p > 1 - p`` agrees except for 0 < raw < ~1e-16.
        decision = Decision.ARGMAX if k == 1 else Decision.RAW_ARGMAX
        return Ensemble(
            task=Task.CLASSIFICATION,
            link=link,
            link_params=params,
            decision=decision,
            classes=np.asarray(estimator.classes_),
            **fields,
        )
    return Ensemble(task=Task.REGRESSION, link=link, link_params=params, **fields)


def _input_columns(estimator: Any) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Model column of each internal column, and each categorical column's categories."""
    n = int(estimator.n_features_in_)
    pre = getattr(estimator, "_preprocessor", None)
    if pre is None:
        if getattr(estimator, "is_categorical_", None) is not None and estimator.is_categorical_.any():
            raise EmlcError(
                "this HistGradientBoosting model has categorical features without scikit-learn's "
                "internal encoder (scikit-learn < 1.5?); refit it with scikit-learn >= 1.5"
            )
        return np.arange(n), {}
    columns = np.zeros(n, dtype=np.int64)
    categories: dict[int, np.ndarray] = {}
    for name, transformer, selection in pre.transformers_:
        if name == "remainder" and transformer == "drop":
            continue
        source = np.flatnonzero(np.asarray(selection)) if np.asarray(selection).dtype == bool else np.asarray(selection)
        out = pre.output_indices_[name]
        columns[out] = source
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


def _rank_set(code_of_rank: np.ndarray, left: np.ndarray, known: np.ndarray, missing_left: bool) -> np.ndarray:
    """Which ranks go left: a category's own decision, unknown values the missing side."""
    code = code_of_rank
    has = code >= 0
    c = np.where(has, code, 0)
    goes_left = np.where(has, left[c] | (~known[c] & missing_left), missing_left)
    return goes_left


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
