"""The tree CSV that emlearn-micropython's ``emlearn_trees.load_model`` reads.

Format (as that loader and ``eml_trees.h`` read it)::

    f,<n_features>          c,<n_classes, 0 for regression>     lf,<leaf bits>
    l,<leaf>                one per leaf: class index (lf 0) or float32 value (lf 32)
    r,<root>                one per tree: node index, or -leaf-1 for a one-leaf tree
    n,<feature>,<threshold>,<left>,<right>
    e,<lines before this>   emlc's end marker (the emlearn loader skips unknown kinds)

A row goes left when ``x[feature] < threshold`` on int16 inputs; a child ``>= 0`` is an
offset from the current node, a negative child is leaf ``-child-1``. With ``lf,0``
each tree votes for its leaf's class and the outputs are votes / trees; with
``lf,32`` the output is the mean of the float32 leaves. Anything else the format
cannot say (floats, NaN routing, soft voting, boosting, links, a lossy early exit) is
refused with :class:`EmlcError` rather than approximated. An exact early exit is left
out: it never changes a prediction, so every tree is evaluated instead.
"""

from __future__ import annotations

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, Decision, Ensemble, Link, Task
from .lower import FlatForest, lower, number, vote_classes

_INT16 = (-32768, 32767)
_ALTERNATIVE = (
    "use --emit micropython (the inlined module) or --csv-flavor emlc "
    "(the emlc tree CSV, read by runtime/micropython/emlc_trees.py) instead"
)


def _refuse(problem: str) -> None:
    raise EmlcError(f"the emlearn tree CSV cannot express this model: {problem}; {_ALTERNATIVE}")


def _check_common(ens: Ensemble) -> None:
    if ens.input_type not in ("int16", "int8", "uint8"):
        _refuse(
            f"its inputs are {ens.input_type} but emlearn compares int16 features "
            "(quantize first: --input int16)"
        )
    if ens.n_features > 128:
        _refuse(f"{ens.n_features} features, emlearn stores feature indices as int8 (at most 128)")
    if ens.link is not Link.IDENTITY or np.any(ens.base_score != 0):
        _refuse(f"link {ens.link.value} and a base score are not part of the format")
    if ens.n_trees == 0:
        _refuse("it has no trees")
    ee = ens.early_exit
    if ee is not None and ee.checkpoints.size and ee.confidence < 1:
        _refuse(
            f"its lossy early exit (confidence {ee.confidence:g}) would stop at check points emlearn "
            "cannot store, so predictions would differ from the ones measured"
        )


def _leaf_table(ens: Ensemble) -> tuple[int, list[str], np.ndarray]:
    """(leaf bits, leaf literals, emlearn leaf index per IR leaf row)."""
    values = ens.leaf_values()
    if ens.task is Task.CLASSIFICATION:
        if ens.decision is not Decision.ARGMAX or ens.n_outputs != ens.n_classes or ens.n_classes < 2:
            _refuse("only classifiers with one output per class and an argmax decision fit")
        if ens.n_classes > 256:
            _refuse(f"{ens.n_classes} classes, emlearn leaves are uint8 class indices")
        if np.any(ens.tree_output != 0):
            _refuse("trees write to different outputs (one-vs-rest boosting)")
        if ens.aggregation is not Aggregation.VOTE:
            one_hot = np.all((values == 0) | (values == 1), axis=1) & (values.sum(axis=1) == 1)
            if ens.aggregation is not Aggregation.MEAN or not one_hot.all():
                _refuse(
                    "emlearn leaves hold one class (hard voting) but this model "
                    f"{'averages class probabilities' if ens.aggregation is Aggregation.MEAN else 'sums scores'}"
                )
        return 0, [str(c) for c in range(ens.n_classes)], vote_classes(ens)
    if ens.task is Task.REGRESSION:
        if ens.aggregation is not Aggregation.MEAN or ens.n_outputs != 1 or ens.leaf_width != 1:
            _refuse("regression is only the mean of one float32 value per tree (a forest)")
        as32 = values[:, 0].astype(np.float32)
        if ens.accum_dtype != "float32" or not np.array_equal(as32.astype(np.float64), values[:, 0]):
            _refuse("emlearn averages float32 leaves in float32, this model needs float64")
        unique, inverse = np.unique(as32, return_inverse=True)
        return 32, [number(float(v)) for v in unique], inverse.astype(np.int64)
    _refuse(f"{ens.task.value} models are not supported by emlearn_trees")
    raise AssertionError("unreachable")


def _child(flat: FlatForest, node: int, child: int, leaf_index: np.ndarray) -> int:
    if child < 0:
        return -int(leaf_index[~child]) - 1
    offset = child - node
    if not 0 < offset <= _INT16[1]:
        _refuse(f"a child offset of {offset} nodes does not fit int16")
    return offset


def emit_emlearn_csv(ens: Ensemble) -> str:
    """The model as an emlearn-micropython tree CSV (see the module docstring)."""
    _check_common(ens)
    leaf_bits, leaves, leaf_index = _leaf_table(ens)
    flat = lower(ens)
    if flat.n_nodes > _INT16[1] + 1:
        _refuse(f"{flat.n_nodes} decision nodes, emlearn's int16 root indices reach 32768")
    lines = [f"f,{ens.n_features}", f"c,{ens.n_classes if leaf_bits == 0 else 0}", f"lf,{leaf_bits}"]
    lines += [f"l,{v}" for v in leaves]
    lines += [f"r,{r if r >= 0 else -int(leaf_index[~r]) - 1}" for r in flat.roots.tolist()]
    for i in range(flat.n_nodes):
        # x <= t on integers is x < t + 1, the test emlearn makes
        below = int(flat.threshold[i]) + 1
        if not _INT16[0] <= below <= _INT16[1]:
            _refuse(f"threshold x < {below} on feature {flat.feature[i]} is outside int16")
        left = _child(flat, i, int(flat.left[i]), leaf_index)
        right = _child(flat, i, int(flat.right[i]), leaf_index)
        lines.append(f"n,{flat.feature[i]},{below},{left},{right}")
    lines.append(f"e,{len(lines)}")
    return "\n".join(lines) + "\n"
