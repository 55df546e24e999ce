"""The typed tree-ensemble IR.

Every frontend lowers into an :class:`Ensemble`, every pass maps one to another and
every backend reads one. Trees are struct-of-arrays numpy tables with explicit dtypes
(never per-node Python objects), so the whole compiler stays vectorised and a
quantization pass changes a dtype rather than a code path.

Semantics (the reference interpreter in :mod:`emlc.ir.interpret` is the executable
definition):

* Features are first cast to ``input_type`` (float32 by default, as every supported
  library does before comparing), then compared in float64, which is exact for
  float32 and all integer input types.
* A decision node on feature ``f`` with threshold ``t`` sends a row left when
  ``x[f] <= t`` (``Op.LE``) or ``x[f] < t`` (``Op.LT``); a NaN goes to the side given
  by ``default_left``. A categorical node (``Op.CAT``) sends ``x`` left when
  ``c = trunc(x)`` is a valid category (``0 <= c < 32 * words``) whose bit is set in
  ``cat_sets[node.cat]``, and right otherwise; NaN again follows ``default_left``.
* If ``feature_ranks[f]`` is set, values of feature ``f`` are replaced by their rank
  among the edges before comparing (see :class:`FeatureRank`), so thresholds are
  small integers.
* A leaf refers to a row of the shared leaf table ``leaves``; tree ``i`` adds that row
  to outputs ``tree_output[i] : tree_output[i] + leaf_width``. Rows are accumulated
  in tree order in ``accum_dtype`` (integer leaf tables accumulate exactly in int64
  and are scaled by ``leaf_scale`` at the end). ``Aggregation.MEAN`` divides by the
  number of trees; ``Aggregation.VOTE`` gives each tree one vote for the argmax of
  its leaf row. ``base_score`` is added, then ``link`` maps raw margins to outputs in the
  library's own arithmetic (``link_math``), and ``decision`` maps outputs to a class for classifiers.
* A tree is a DAG rooted at node 0 (merged subtrees may share nodes); every node is
  reachable from the root and there are no cycles.
* ``early_exit`` (optional, see :class:`EarlyExit`) lets a classifier's ``predict``
  stop after fewer trees when the rest cannot change the class; it never changes any
  result of the interpreter, which only reports how many trees such a run evaluates.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

#: dtypes a threshold column may have (quantization passes narrow it).
THRESHOLD_DTYPES = ("float64", "float32", "int32", "int16", "int8", "uint16", "uint8")
#: dtypes a leaf table may have; integer tables are scaled by ``leaf_scale``.
LEAF_DTYPES = ("float64", "float32", "int32", "int16", "int8", "uint16", "uint8")
#: declared input types of the features.
INPUT_TYPES = ("float32", "float64", "int32", "int16", "int8", "uint16", "uint8")


class Op(enum.IntEnum):
    """Node kind; the value is what the ``op`` column stores."""

    LEAF = 0
    LE = 1
    LT = 2
    CAT = 3


#: what an ensemble caches about its trees (never pickled, kept while the trees stay).
_CACHES = ("_columns", "_cut")
#: set in an ensemble's ``__dict__`` once :func:`emlc.ir.verify.verify` accepted it (never copied or pickled).
VERIFIED = "_verified"
#: the key of :meth:`Ensemble.node_counts` among the cached columns.
_COUNTS = "#nodes"


def _same(a: Any, b: Any) -> bool:
    return a is b


#: the mark :meth:`Tree.mark_preorder` sets in a tree's ``__dict__``.
_PREORDER = "_preorder"
#: ``Op.LEAF`` as a plain int: an enum member look-up costs more than counting a small tree's leaves.
_LEAF = int(Op.LEAF)


class Task(enum.Enum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"
    RANKING = "ranking"
    ANOMALY = "anomaly"


class Aggregation(enum.Enum):
    SUM = "sum"
    MEAN = "mean"
    VOTE = "vote"


class Link(enum.Enum):
    """Post-transform from raw margins to outputs.

    ``ISOLATION`` is scikit-learn's IsolationForest score:
    ``-2 ** (-raw / link_params[0]) - link_params[1]`` (the decision function).
    ``SIGMOID`` is ``1 / (1 + exp(-link_params[0] * raw))`` (``link_params`` defaults
    to ``(1.0,)``).
    """

    IDENTITY = "identity"
    SIGMOID = "sigmoid"
    SOFTMAX = "softmax"
    EXP = "exp"
    ISOLATION = "isolation"


class LinkMath(enum.Enum):
    """Whose arithmetic the link follows, step by step, so probabilities equal the
    library's to the last bit (``emlc.ir.interpret.apply_link`` is the rule).

    ``NUMPY``: numpy's ufuncs in the raw margins' dtype, numpy's own (SIMD) ``exp``:
    scikit-learn's softmax and log link, IsolationForest, ONNX.
    ``LIBM``: one scalar step at a time in the raw dtype with the C library's ``exp``,
    softmax summed in class order: LightGBM's ConvertOutput, SciPy's ``expit``
    (scikit-learn's logistic links).
    ``XGBOOST``: XGBoost's float32 steps with the C library's ``expf``: sigmoid
    ``1 / (expf(min(-x, 88.7)) + 1 + 1e-16)``, softmax summed in float64 and divided
    by that sum rounded to float32.
    """

    NUMPY = "numpy"
    LIBM = "libm"
    XGBOOST = "xgboost"


class Decision(enum.Enum):
    """How a classifier's outputs become a class index.

    ``ARGMAX``: first maximum of the link outputs; with one output ``p`` the vector
    is ``[1 - p, p]`` (LightGBM, HistGradientBoosting, forests).
    ``RAW_ARGMAX``: first maximum of the raw margins; with one output, class 1 when
    ``raw >= 0`` (scikit-learn GradientBoosting).
    ``GT_HALF``: one output, class 1 when ``p > 0.5`` (XGBoost).
    ``SIGN``: anomaly detection, ``1`` when the output is ``>= 0`` else ``-1``.
    ``NONE``: regressors and rankers.
    """

    ARGMAX = "argmax"
    RAW_ARGMAX = "raw_argmax"
    GT_HALF = "gt_half"
    SIGN = "sign"
    NONE = "none"


@dataclass(frozen=True, eq=False)
class Tree:
    """One tree as parallel node columns; node 0 is the root.

    Columns (all of length ``n_nodes``):
      ``op`` uint8 (:class:`Op`), ``feature`` int32 (-1 on leaves), ``threshold``
      (ensemble threshold dtype, 0 on leaves and categorical nodes), ``default_left``
      bool, ``left``/``right`` int32 child node (-1 on leaves), ``leaf`` int32 row of
      the leaf table (-1 on decision nodes), ``cat`` int32 row of ``cat_sets``
      (-1 unless ``op == CAT``).
    """

    op: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    cat: np.ndarray

    COLUMNS = ("op", "feature", "threshold", "default_left", "left", "right", "leaf", "cat")

    @property
    def n_nodes(self) -> int:
        return int(self.op.shape[0])

    @property
    def is_leaf(self) -> np.ndarray:
        return self.op == _LEAF

    @property
    def n_leaves(self) -> int:
        return int(np.count_nonzero(self.is_leaf))

    def replace(self, **changes: Any) -> "Tree":
        return replace(self, **changes)

    @property
    def in_preorder(self) -> bool:
        """Is the tree known to be numbered in depth-first, left-first preorder, each node
        at its first visit? (Builders that number so say it with :meth:`mark_preorder`;
        False means not known.)"""
        return _PREORDER in self.__dict__

    def mark_preorder(self) -> "Tree":
        """Record that the tree is in preorder (a fact about its columns, which never change)."""
        self.__dict__[_PREORDER] = True
        return self

    @staticmethod
    def build(
        *,
        op,
        feature,
        threshold,
        left,
        right,
        leaf,
        default_left=None,
        cat=None,
        threshold_dtype: str = "float64",
    ) -> "Tree":
        """Make a tree from sequences, filling dtypes and optional columns."""
        n = len(op)
        return Tree(
            op=np.asarray(op, dtype=np.uint8),
            feature=np.asarray(feature, dtype=np.int32),
            threshold=np.asarray(threshold, dtype=threshold_dtype),
            default_left=(
                np.zeros(n, dtype=bool) if default_left is None else np.asarray(default_left, dtype=bool)
            ),
            left=np.asarray(left, dtype=np.int32),
            right=np.asarray(right, dtype=np.int32),
            leaf=np.asarray(leaf, dtype=np.int32),
            cat=np.full(n, -1, dtype=np.int32) if cat is None else np.asarray(cat, dtype=np.int32),
        )

    @staticmethod
    def cut(columns: dict[str, np.ndarray], sizes: list[int]) -> list["Tree"]:
        """Trees cut from node columns back to back (tree ``i`` is the next ``sizes[i]``
        nodes, as views), filled in directly: a thousand dataclass constructions with
        eight keyword arguments each cost more than slicing does."""
        items = tuple(columns.items())
        new = object.__new__
        out = []
        end = 0
        for k in sizes:
            tree = new(Tree)
            s = slice(end, end + k)
            tree.__dict__.update({name: col[s] for name, col in items})
            out.append(tree)
            end += k
        return out

    def same_as(self, other: "Tree") -> bool:
        return all(
            getattr(self, c).dtype == getattr(other, c).dtype
            and np.array_equal(getattr(self, c), getattr(other, c))
            for c in self.COLUMNS
        )


@dataclass(frozen=True, eq=False)
class FeatureRank:
    """Replaces a float feature by its rank among sorted, unique ``edges``.

    ``rank(x) = count(edges < x)`` (``strict=False``) or ``count(edges <= x)``
    (``strict=True``); NaN stays NaN. Then ``x <= edges[k]`` is ``rank <= k`` when
    ``strict`` is false, and ``x < edges[k]`` is ``rank <= k`` when it is true, so a
    feature with at most 255 thresholds compares a uint8 exactly.
    """

    edges: np.ndarray
    strict: bool = False

    def rank(self, x: np.ndarray) -> np.ndarray:
        side = "right" if self.strict else "left"
        r = np.searchsorted(self.edges, x, side=side).astype(np.float64)
        r[np.isnan(x)] = np.nan
        return r


@dataclass(frozen=True, eq=False)
class EarlyExit:
    """Check points at which a classifier may stop evaluating trees, with exact bounds.

    After the first ``checkpoints[j]`` trees (strictly increasing, in ``[1, n_trees)``)
    take the running accumulator ``acc`` exactly as the interpreter has it at that
    point (float tables: in ``accum_dtype``, starting from ``base_score`` under SUM;
    integer tables: the exact integer sums) and add the bounds row ``j`` in the same
    arithmetic (``lower``/``upper`` have dtype ``accum_dtype``, or int64 for integer
    tables):

    * one output: stop with class 1 if ``acc[0] + lower[j, 0] > 0``, with class 0 if
      ``acc[0] + upper[j, 0] < 0``;
    * several outputs: let ``c`` be the first index maximising ``acc + lower[j]``; stop
      with class ``c`` if ``acc[c] + lower[j, c] > acc[o] + upper[j, o]`` for every
      ``o != c``.

    Whoever sets the bounds guarantees that the class on stopping is the one the full
    ensemble predicts, including float rounding of the remaining sums and the link,
    when ``confidence`` is 1. A lossy confidence exit
    (:mod:`emlc.passes.lossy.confidence_exit`) records a ``confidence`` in (0, 1): its
    bounds were shrunk about their centre to that fraction of the exact width, so the
    same check stops sooner and the class on stopping may differ from the full
    ensemble's. Check points every ``b`` rounds of trees express a batch size ``b``.
    """

    checkpoints: np.ndarray  # int32 [n_checks]
    lower: np.ndarray  # [n_checks, n_outputs]
    upper: np.ndarray  # [n_checks, n_outputs]
    confidence: float = 1.0


@dataclass(frozen=True, eq=False)
class Ensemble:
    """A whole model: trees plus the metadata that turns leaf sums into predictions."""

    n_features: int
    task: Task
    trees: tuple[Tree, ...]
    tree_output: np.ndarray  # int32 [n_trees]: first output column each tree adds to
    leaves: np.ndarray  # [n_leaf_rows, leaf_width], dtype in LEAF_DTYPES
    n_outputs: int
    aggregation: Aggregation = Aggregation.SUM
    base_score: np.ndarray = field(default_factory=lambda: np.zeros(1))  # float64 [n_outputs]
    link: Link = Link.IDENTITY
    link_params: tuple[float, ...] = ()
    link_math: LinkMath = LinkMath.NUMPY
    decision: Decision = Decision.NONE
    classes: np.ndarray | None = None  # labels, index = class index
    accum_dtype: str = "float64"
    input_type: str = "float32"
    leaf_scale: np.ndarray | None = None  # float64 [leaf_width] for integer leaf tables
    cat_sets: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.uint32))
    feature_ranks: tuple[FeatureRank | None, ...] = ()
    feature_names: tuple[str, ...] = ()
    name: str = "model"
    early_exit: EarlyExit | None = None

    @property
    def n_trees(self) -> int:
        return len(self.trees)

    @property
    def leaf_width(self) -> int:
        return int(self.leaves.shape[1])

    @property
    def n_nodes(self) -> int:
        return int(self.node_counts().sum())

    def node_counts(self) -> np.ndarray:
        """Nodes per tree (int64, read-only; counted once per ensemble, like :meth:`column`)."""
        cache = self.__dict__.setdefault("_columns", {})
        counts = cache.get(_COUNTS)
        if counts is None:
            counts = np.array([t.n_nodes for t in self.trees], dtype=np.int64)
            counts.flags.writeable = False
            cache[_COUNTS] = counts
        return counts

    @property
    def n_leaves(self) -> int:
        return self.trees_fact("#leaves", lambda e: int(np.count_nonzero(e.column("op") == _LEAF)) if e.trees else 0)

    def trees_fact(self, key: str, compute: Callable[["Ensemble"], Any]) -> Any:
        """``compute(self)``, a fact about the trees alone, kept with the column cache (so
        shared by every ensemble with these trees, e.g. the pass manager's size reports)."""
        cache = self.__dict__.setdefault("_columns", {})
        if key not in cache:
            cache[key] = compute(self)
        return cache[key]

    def column(self, name: str) -> np.ndarray:
        """Node column ``name`` of every tree back to back (read-only).

        Concatenated once per ensemble: the verifier, the cost model and most passes read
        all trees' nodes at once, and a pass's output is verified before the next pass
        reads it. Needs at least one tree.
        """
        cache = self.__dict__.setdefault("_columns", {})
        col = cache.get(name)
        if col is None:
            col = np.concatenate([getattr(t, name) for t in self.trees])
            col.flags.writeable = False
            cache[name] = col
        return col

    def __getstate__(self) -> dict:
        """Pickles and copies leave the column cache and the verifier's mark out."""
        return {k: v for k, v in self.__dict__.items() if k not in _CACHES and k != VERIFIED}

    @property
    def n_classes(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    @property
    def threshold_dtype(self) -> np.dtype:
        return self.trees[0].threshold.dtype if self.trees else np.dtype("float64")

    def replace(self, **changes: Any) -> "Ensemble":
        out = replace(self, **changes)
        trees = changes.get("trees", self.trees)
        if "_columns" in self.__dict__ and len(trees) == len(self.trees) and all(map(_same, trees, self.trees)):
            for key in _CACHES:  # same trees, same columns
                if key in self.__dict__:
                    out.__dict__[key] = self.__dict__[key]
        return out

    @property
    def cut_from_columns(self) -> bool:
        """Were the trees cut from whole-ensemble columns (:meth:`with_node_columns`)? Then
        every tree's columns are 1-D slices of those, so they share their dtypes."""
        return "_cut" in self.__dict__

    def with_node_columns(
        self, columns: dict[str, np.ndarray], sizes: list[int], trees: tuple[Tree, ...] | None = None,
    ) -> "Ensemble":
        """The ensemble with trees cut from whole-ensemble node columns (tree ``i`` holds the
        next ``sizes[i]`` nodes), which also serve as its :meth:`column` cache. ``trees``:
        those trees, when already cut (:meth:`Tree.cut`)."""
        out = replace(self, trees=tuple(Tree.cut(columns, sizes)) if trees is None else trees)
        total = sum(sizes)
        cache = {}
        for name, col in columns.items():
            view = col.view()
            view.flags.writeable = False
            cache[name] = view
        counts = np.array(sizes, dtype=np.int64)
        counts.flags.writeable = False
        cache[_COUNTS] = counts
        out.__dict__["_columns"] = cache
        if sizes and all(col.ndim == 1 and col.size == total for col in columns.values()):
            out.__dict__["_cut"] = True
        return out

    def leaf_values(self) -> np.ndarray:
        """The leaf table as float64 values (integer tables scaled)."""
        values = self.leaves.astype(np.float64)
        if self.leaf_scale is not None:
            values = values * self.leaf_scale
        return values

    def same_as(self, other: "Ensemble") -> bool:
        """Structural equality, dtypes included (what a text round-trip must preserve)."""

        def arr_eq(a, b) -> bool:
            if a is None or b is None:
                return a is None and b is None
            a, b = np.asarray(a), np.asarray(b)
            same_kind = a.dtype == b.dtype or (a.dtype.kind in "UO" and b.dtype.kind in "UO")
            return same_kind and a.shape == b.shape and np.array_equal(a, b)

        def ranks_eq(a: FeatureRank | None, b: FeatureRank | None) -> bool:
            if a is None or b is None:
                return a is None and b is None
            return a.strict == b.strict and arr_eq(a.edges, b.edges)

        return (
            self.n_features == other.n_features
            and self.task == other.task
            and self.n_outputs == other.n_outputs
            and self.aggregation == other.aggregation
            and self.link == other.link
            and tuple(self.link_params) == tuple(other.link_params)
            and self.decision == other.decision
            and self.accum_dtype == other.accum_dtype
            and self.input_type == other.input_type
            and self.name == other.name
            and tuple(self.feature_names) == tuple(other.feature_names)
            and arr_eq(self.classes, other.classes)
            and arr_eq(self.base_score, other.base_score)
            and arr_eq(self.leaves, other.leaves)
            and arr_eq(self.leaf_scale, other.leaf_scale)
            and arr_eq(self.cat_sets, other.cat_sets)
            and np.array_equal(self.tree_output, other.tree_output)
            and len(self.feature_ranks) == len(other.feature_ranks)
            and all(ranks_eq(a, b) for a, b in zip(self.feature_ranks, other.feature_ranks))
            and self.n_trees == other.n_trees
            and all(a.same_as(b) for a, b in zip(self.trees, other.trees))
            and _exits_equal(self.early_exit, other.early_exit, arr_eq)
        )


def _exits_equal(a: EarlyExit | None, b: EarlyExit | None, arr_eq) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return (
        a.confidence == b.confidence
        and arr_eq(a.checkpoints, b.checkpoints)
        and arr_eq(a.lower, b.lower)
        and arr_eq(a.upper, b.upper)
    )
