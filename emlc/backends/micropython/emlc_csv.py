"""The emlc tree CSV read by ``runtime/micropython/emlc_trees.py``.

Unlike emlearn's CSV it keeps the whole model: float thresholds, probability or
margin leaf vectors, integer (quantized) leaves with their scale, regression,
NaN routing, links and base scores. Records, in this order::

    emlc-trees,<version: 1, or 2 with an early exit>
    x,<n_features>,<input i|f|d>,<negated 0|1>
    o,<n_outputs>,<leaf width>,<sum|mean|vote>,<accumulator f|d>,<leaf typecode>,<threshold typecode>
    k,<link>[,<parameter>...]
    d,<decision>
    b,<base score per output>
    s,<scale per leaf column>          only for integer leaves
    y,<label>,...  or  nc,<n_classes>  optional (labels: see label_fields)
    L,<rows>      then one  l,<values>  per leaf row (vote: the output voted for)
    N,<nodes>     then one  n,<feature>,<threshold>,<left>,<right>  per node
    T,<trees>     then one  t,<root>,<first output>  per tree
    P,<checks>,<arithmetic i|f|d>   only in version 2, then one
      p,<trees before the check>,<lower bound per output...>,<upper bound per output...>  per check
    e,<records before this one>

A node sends the row left when ``x[feature] <= threshold`` on the raw input (the
cast to float32 is folded into the thresholds); a
feature index ``n_features + j`` reads ``-x[j]``, which is how nodes that send NaN
left are stored (``x > t`` is ``-x < -t``, with the children swapped), so the
device never tests for NaN. Children are later node indices or ``-row-1``.

The ``P``/``p`` records carry the IR's early exit (:class:`emlc.ir.EarlyExit`): its
bounds are added to the sums in their arithmetic (``i`` exact integers, ``f``
float32, ``d`` float64), the accumulator's. A file with them says version 2, so an
older runtime refuses it rather than evaluating every tree and predicting otherwise
than a lossy exit was measured; files without them stay version 1.

The records avoid emlearn's ``f`` and ``c`` on purpose: emlearn's loader then stops
at the first leaf ("missing metadata") instead of misreading this file.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, EarlyExit, Ensemble
from .lower import FlatForest, _le_threshold, early_exit, lower, number, vote_classes

_LEAF_TYPECODES = {
    "float64": "d", "float32": "f", "int32": "i", "int16": "h", "int8": "b", "uint16": "H", "uint8": "B",
}


def negate_nan_left(flat: FlatForest, n_features: int) -> FlatForest:
    """Rewrite NaN-left nodes as tests on ``-x`` so every node is ``x[f] <= t``, NaN going right."""
    neg = flat.nan_left
    if not neg.any():
        return flat
    threshold = flat.threshold.copy()
    for i in np.flatnonzero(neg):
        t = float(flat.threshold[i])
        # right when x > t, i.e. -x < -t; a NaN threshold (never left) means always right
        threshold[i] = math.inf if math.isnan(t) else _le_threshold("d", None, -t, True)
    return FlatForest(
        feature=np.where(neg, flat.feature + n_features, flat.feature),
        threshold=threshold,
        nan_left=np.zeros_like(neg),
        left=np.where(neg, flat.right, flat.left),
        right=np.where(neg, flat.left, flat.right),
        roots=flat.roots,
        kind=flat.kind,
    )


def threshold_typecode(flat: FlatForest) -> str:
    """The narrowest array typecode holding every threshold exactly."""
    if flat.kind != "i":
        return "d"
    t = flat.threshold
    if t.size == 0 or (t.min() >= -32768 and t.max() <= 32767):
        return "h"
    return "i" if t.min() >= -(2**31) and t.max() <= 2**31 - 1 else "d"


def label_fields(ens: Ensemble) -> list[str] | None:
    """Class labels as CSV fields, or None without labels.

    Numbers as written, booleans ``b0``/``b1``, strings ``s`` + the hex of their UTF-8
    bytes, so no label can contain a comma, a newline or anything the device could
    take for code.
    """
    if ens.classes is None:
        return None
    fields = []
    for v in np.asarray(ens.classes).tolist():
        if isinstance(v, bool):
            fields.append(f"b{int(v)}")
        elif isinstance(v, int):
            fields.append(str(v))
        elif isinstance(v, float):
            fields.append(number(v))
        elif isinstance(v, str):
            fields.append("s" + v.encode("utf-8").hex())
        else:
            raise EmlcError(f"class label {v!r} is not a number or a string; relabel the classes")
    return fields


def emit_emlc_csv(ens: Ensemble) -> str:
    """The model in the emlc tree CSV (see the module docstring)."""
    flat = lower(ens)
    negated = bool(flat.nan_left.any())
    flat = negate_nan_left(flat, ens.n_features)
    vote = ens.aggregation is Aggregation.VOTE
    integer = ens.leaves.dtype.kind in "iu" and not vote
    accum = "f" if ens.accum_dtype == "float32" else "d"
    # float leaves are added in the accumulator's type, as the interpreter casts them
    leaves = ens.leaves.astype(ens.accum_dtype) if ens.leaves.dtype.kind == "f" else ens.leaves
    leaf_code = "H" if vote else _LEAF_TYPECODES[str(leaves.dtype)]
    tcode = threshold_typecode(flat)
    base = ens.base_score.astype(np.float64)
    if not vote:
        base = base.astype(ens.accum_dtype).astype(np.float64)
    ee = early_exit(ens)
    lines = [
        f"emlc-trees,{1 if ee is None else 2}",
        f"x,{ens.n_features},{flat.kind},{int(negated)}",
        f"o,{ens.n_outputs},{ens.leaf_width},{ens.aggregation.value},{accum},{leaf_code},{tcode}",
        ",".join(["k", ens.link.value, *(number(p) for p in ens.link_params)]),
        f"d,{ens.decision.value}",
        ",".join(["b", *(number(v) for v in base)]),
    ]
    if integer:
        scale = np.ones(ens.leaf_width) if ens.leaf_scale is None else ens.leaf_scale
        lines.append(",".join(["s", *(number(float(v)) for v in scale)]))
    labels = label_fields(ens)
    if labels is not None:
        lines.append(",".join(["y", *labels]))
    elif ens.n_classes:
        lines.append(f"nc,{ens.n_classes}")
    rows = vote_classes(ens)[:, None] if vote else leaves
    lines.append(f"L,{rows.shape[0]}")
    leaf_kind = "i" if (vote or integer) else "d"
    lines += [",".join(["l", *(number(float(v), leaf_kind) for v in row)]) for row in rows]
    lines.append(f"N,{flat.n_nodes}")
    tkind = "i" if tcode in "hi" else "d"
    lines += [
        f"n,{f},{number(t, tkind)},{left},{right}"
        for f, t, left, right in zip(
            flat.feature.tolist(), flat.threshold.tolist(), flat.left.tolist(), flat.right.tolist()
        )
    ]
    lines.append(f"T,{ens.n_trees}")
    lines += [f"t,{r},{o}" for r, o in zip(flat.roots.tolist(), ens.tree_output.tolist())]
    if ee is not None:
        lines += _exit_records(ee)
    lines.append(f"e,{len(lines)}")
    return "\n".join(lines) + "\n"


def _exit_records(ee: EarlyExit) -> list[str]:
    """``P`` and one ``p`` per check point, the bounds written so they read back exactly."""
    code = "i" if ee.lower.dtype.kind in "iu" else "f" if ee.lower.dtype == np.float32 else "d"

    def text(v) -> str:
        return str(int(v)) if code == "i" else number(float(v))

    rows = [
        ",".join(["p", str(int(k)), *(text(v) for v in lo), *(text(v) for v in up)])
        for k, lo, up in zip(ee.checkpoints.tolist(), ee.lower, ee.upper)
    ]
    return [f"P,{len(rows)},{code}", *rows]
