"""Fixed-point class scores for ``predict``, shared by the C and MicroPython backends.

``predict`` only needs the index of the largest output, so a backend may add integer
leaves ``q = round(x * 2**s)`` and decide from those sums when the winning margin
provably survives every rounding, falling back to the exact float sums on near-ties.
:func:`fixed_point` picks ``s`` for an accumulator that holds ``|v| <= acc_max`` and
computes the margin.

Why the fast answer equals the interpreter's (``decide`` on ``interpret_raw``):
let ``x_t`` be tree ``t``'s leaf value for output ``c`` as the interpreter adds it
(the table cast to ``accum_dtype``), ``b`` the base score in ``accum_dtype``,
``D`` the tree count under MEAN and 1 under SUM, ``n_c`` the number of trees adding
to output ``c`` and ``R_c = sum_t x_t / D + b_c`` the exact real raw margin.

1. Scaling by ``2**s`` is exact in binary floating point, so each rounded leaf obeys
   ``|q_t - 2**s x_t| <= 1/2``; the start value ``init_c = round(2**s D b_c)`` is
   computed with exact rationals, so ``|init_c - 2**s D b_c| <= 1/2``. The integer
   sum ``Q_c = init_c + sum_t q_t`` never overflows (``s`` is chosen so
   ``|Q_c| <= acc_max / 2``), hence ``|Q_c - 2**s D R_c| <= (n_c + 1) / 2``.
   (Leaves a backend computes its own way, within ``delta`` of ``2**s x_t``
   (:func:`with_leaves`), give ``n_c delta + 1 / 2``, and ``M`` below
   ``(n_c + n_o) delta + 1 + ...``.)
2. The interpreter's float result ``V_c`` (recursive summation of at most ``N + 1``
   terms, one division, one addition, unit roundoff ``u`` of ``accum_dtype``) obeys
   ``|V_c - R_c| <= E_c = gamma(N + 2) * (A_c / D + |b_c|)`` with ``gamma(k) =
   k u / (1 - k u)`` and ``A_c = n_c max|x|`` bounding the sum of absolute leaves
   (Higham, *Accuracy and Stability of Numerical Algorithms*, Lemma 3.1 and 4.1).
3. Let ``c`` be the first index of the largest ``Q``. If ``Q_c - Q_o > M`` with
   ``M >= (n_c + n_o) / 2 + 1 + 2**s D (E_c + E_o)`` for every ``o != c``, then
   ``2**s D (R_c - R_o) > 2**s D (E_c + E_o)``, so ``V_c > V_o``: ``c`` is the
   unique maximum of the interpreter's outputs, and its first-maximum rule picks it.
   Otherwise (near-ties, including exact ties) the float path decides, exactly as
   before.

With ``nonnegative`` (no negative leaf or base), sums lie in ``[0, acc_max]`` and so
does ``best - second``: an unsigned accumulator uses its whole range (8-bit sums on
AVR: twice the resolution of a signed byte). Such a plan takes the largest integer
scale ``S`` that fits rather than a power of two (10 trees in a byte: 24 instead of
16). ``x_t S`` then rounds once in float64 (unit roundoff ``v``), so step 1 becomes
``|q_t - S x_t| <= 1/2 + S max|x| v`` and the margin adds ``(n_c + n_o) S max|x| v``.

Integer leaf tables on a power-of-two grid (the lossy leaf passes' tables:
:mod:`emlc.passes.lossy.quantize_leaves`) need no margin: the plan is the table itself,
``init = b / s`` and ``margin = -1`` (:attr:`FixedPoint.exact`, every row decided). With
one scale ``s = 2**e`` for every column, ``b_c = init_c s`` (SUM; MEAN: ``b = 0``) and
``M = max_c(|init_c| + n_c max|q|) < 2**(p - 2)`` (``p`` the precision of
``accum_dtype``), the interpreter's ``Q_c s`` is exact (a power of two times an integer
below ``2**p``), and so is ``Q_c s + b_c = (Q_c + init_c) s`` under SUM. Under MEAN two
sums ``Q_c > Q_o`` give reals ``Q s / D`` at least ``s / D`` apart while each rounds by
at most half an ulp, below ``2**(1 - p) M s / D < s / (2 D)``: the rounded outputs keep
the strict order. Either way the interpreter's first largest output is the first largest
integer sum, with ties where the integers tie.

Applies to ARGMAX with the identity link and to RAW_ARGMAX (decided on raw
margins), for SUM and MEAN over float leaf tables (or, as above, integer ones) with at
least two outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..ir.ensemble import Aggregation, Decision, Ensemble, Link, Task


@dataclass(frozen=True)
class FixedPoint:
    """Integer leaves ``q = round(x * scale)``; decided when best - second > ``margin``."""

    scale: float  # a power of two, or an integer >= 2 for nonnegative plans
    leaves: np.ndarray  # int64 [rows, width]
    init: np.ndarray  # int64 [n_outputs]
    margin: int

    @property
    def exact(self) -> bool:
        """Do the integer sums decide every row (an integer table on its grid: no margin)?"""
        return self.margin < 0

    @property
    def shift(self) -> int:
        """``log2(scale)``, for the code that needs a power of two (exit bounds, table notes)."""
        mantissa, exponent = math.frexp(self.scale)
        assert mantissa == 0.5, "not a power-of-two scale"
        return exponent - 1


def eligible(ens: Ensemble) -> bool:
    """Does the class depend only on the order of the raw margins, with float leaves (or
    integer ones, when :func:`grid_plan` decides them)?"""
    if ens.task is not Task.CLASSIFICATION or ens.n_outputs < 2 or ens.n_trees == 0:
        return False
    if ens.aggregation not in (Aggregation.SUM, Aggregation.MEAN) or ens.leaves.dtype.kind not in "fiu":
        return False
    return ens.decision is Decision.RAW_ARGMAX or (ens.decision is Decision.ARGMAX and ens.link is Link.IDENTITY)


def grid_plan(ens: Ensemble, acc_max: int) -> FixedPoint | None:
    """The exact plan of an integer leaf table on one power-of-two grid whose sums fit
    ``[-acc_max, acc_max]`` (see the module docstring), or None. Models with an early exit
    keep their own integer checks (:mod:`emlc.backends.c.exit_checks`)."""
    if not eligible(ens) or ens.leaves.dtype.kind not in "iu" or ens.early_exit is not None:
        return None
    scale = np.ones(ens.leaf_width) if ens.leaf_scale is None else np.asarray(ens.leaf_scale, np.float64)
    s = float(scale[0])
    if not (s > 0 and (scale == s).all() and math.frexp(s)[0] == 0.5):
        return None
    acc = np.dtype(ens.accum_dtype)
    b = np.asarray(ens.base_score, dtype=np.float64).astype(acc).astype(np.float64)
    if ens.aggregation is Aggregation.MEAN and b.any():
        return None
    init = b / s
    if not (np.isfinite(init).all() and (init == np.rint(init)).all()):
        return None
    q = ens.leaves.astype(np.int64)
    reach = int((np.abs(init).astype(np.int64) + trees_per_output(ens) * int(np.abs(q).max())).max())
    p = np.finfo(acc).nmant + 1
    if reach > acc_max or reach >= 2 ** (p - 2) or s < float(np.finfo(acc).tiny) or reach * s > float(np.finfo(acc).max) / 4:
        return None
    return FixedPoint(1.0 / s, q, init.astype(np.int64), -1)


def trees_per_output(ens: Ensemble) -> np.ndarray:
    """How many trees add to each output (``n_c``)."""
    n_c = np.zeros(ens.n_outputs, dtype=np.int64)
    for o in np.asarray(ens.tree_output, dtype=np.int64).tolist():
        n_c[o : o + ens.leaf_width] += 1
    return n_c


def _gamma(k: int, u: float) -> float:
    return k * u / (1.0 - k * u)


def fixed_point(ens: Ensemble, acc_max: int, leaf_max: int | None = None,
                nonnegative: bool = False) -> FixedPoint | None:
    """The fixed-point plan for sums held in ``[-acc_max, acc_max]`` (and leaves in
    ``[-leaf_max, leaf_max]`` when given: narrower tables, wider margins), or None when it
    cannot help. ``nonnegative``: sums in ``[0, acc_max]`` (None if a leaf or base is
    negative)."""
    if not eligible(ens):
        return None
    if ens.leaves.dtype.kind != "f":
        fx = grid_plan(ens, acc_max)
        return None if fx is None or (nonnegative and bool((fx.leaves < 0).any() or (fx.init < 0).any())) else fx
    acc = np.dtype(ens.accum_dtype)
    x = ens.leaves.astype(acc).astype(np.float64)
    b = np.asarray(ens.base_score, dtype=np.float64).astype(acc).astype(np.float64)
    n_c = trees_per_output(ens)
    d = ens.n_trees if ens.aggregation is Aggregation.MEAN else 1
    xm = float(np.abs(x).max()) if x.size else 0.0
    bm = float(np.abs(b).max())
    nmax = int(n_c.max())
    if xm == 0.0 or not math.isfinite(xm * nmax + bm * d) or xm * nmax + bm > float(np.finfo(acc).max) / 4:
        return None
    if nonnegative and (bool((x < 0).any()) or bool((b < 0).any())):
        return None
    limit = acc_max if nonnegative else acc_max // 2  # differences of two sums then fit the type too
    if limit - nmax - 2 <= 0:
        return None
    room = (limit - nmax - 2) / (d * bm + nmax * xm)
    integer = nonnegative and leaf_max is None and room >= 2
    scale = float(math.floor(room)) if integer else math.ldexp(1.0, math.floor(math.log2(room)))
    if leaf_max is not None:
        scale = min(scale, math.ldexp(1.0, math.floor(math.log2((leaf_max - 0.5) / xm))))
    while True:
        q = np.rint(x * scale).astype(np.int64)
        init = np.array([round(Fraction(float(v)) * d * Fraction(scale)) for v in b], dtype=np.int64) if bm else np.zeros(
            ens.n_outputs, dtype=np.int64)
        if int(np.abs(init).max()) + nmax * int(np.abs(q).max()) <= limit:
            break
        scale = scale - 1 if integer and scale > 2 else scale / 2
    exact = math.frexp(scale)[0] == 0.5  # a power of two scales exactly
    margin = _margin(ens, scale, 0.5 + (0.0 if exact else scale * xm * 2.0**-53), limit)
    return None if margin is None else FixedPoint(scale, q, init, margin)


def _margin(ens: Ensemble, scale: float, delta: float, limit: int) -> int | None:
    """The margin ``M`` of step 3 for leaves within ``delta`` of ``scale x`` (step 1), or
    None when it would take a quarter of the sums' range."""
    acc = np.dtype(ens.accum_dtype)
    x = np.abs(ens.leaves.astype(acc).astype(np.float64))
    b = np.abs(np.asarray(ens.base_score, dtype=np.float64).astype(acc).astype(np.float64))
    n_c = trees_per_output(ens)
    nmax = int(n_c.max())
    d = ens.n_trees if ens.aggregation is Aggregation.MEAN else 1
    u = float(np.finfo(acc).eps) / 2
    err = _gamma(ens.n_trees + 2, u) * (n_c * float(x.max()) / d + b)
    worst = float(np.sort(err)[-2:].sum()) if err.size > 1 else float(err.sum())
    rhs = 2 * nmax * delta + 1 + worst * d * scale
    margin = math.ceil(rhs * (1 + 1e-9)) + 1
    return None if margin >= limit // 4 else margin


def leaf_error(ens: Ensemble, scale: float, leaves: np.ndarray) -> float:
    """The largest ``|q - scale x|`` over the integer ``leaves`` and the interpreter's leaf
    values ``x``, exactly (rounded up to a float): the ``delta`` of step 1 for integer
    leaves a backend computes its own way."""
    x = ens.leaves.astype(np.dtype(ens.accum_dtype)).astype(np.float64)
    pairs = np.unique(np.stack([np.asarray(leaves, dtype=np.float64).ravel(), x.ravel()]), axis=1)
    worst = max(abs(Fraction(q) - Fraction(scale) * Fraction(v)) for q, v in pairs.T.tolist())
    up = float(worst)
    return up if Fraction(up) >= worst else math.nextafter(up, math.inf)


def with_leaves(ens: Ensemble, fx: FixedPoint, leaves: np.ndarray, acc_max: int,
                nonnegative: bool = False) -> FixedPoint | None:
    """Plan ``fx`` (of :func:`fixed_point` on the same ``acc_max`` and ``nonnegative``) with
    integer ``leaves`` a backend computes its own way near ``fx.scale x`` (from leaf counts,
    at run time): the margin counts their largest error (:func:`leaf_error`) in step 1.
    None when the sums would leave the accumulator or the margin grows too wide."""
    assert not fx.exact, "an exact plan adds the table itself"
    limit = acc_max if nonnegative else acc_max // 2
    q = np.asarray(leaves, dtype=np.int64)
    if int(np.abs(fx.init).max()) + int(trees_per_output(ens).max()) * int(np.abs(q).max()) > limit:
        return None
    margin = _margin(ens, fx.scale, leaf_error(ens, fx.scale, q), limit)
    return None if margin is None else FixedPoint(fx.scale, q, fx.init, margin)
