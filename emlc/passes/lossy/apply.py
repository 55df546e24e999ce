"""Run the requested lossy passes in a fixed order and measure what they cost.

Order: hard vote, leaf clustering, leaf quantization (all rewrite the leaf table),
then the lossless pipeline of the chosen -O level (clustering makes sibling leaves
equal, which folding and subtree merging then remove), then the confidence early
exit, which must come last because the O2 pipeline's exact early exit would
replace it. Clustered and quantized leaves share one power-of-two scale for every
column, which both the early-exit bounds and the integer class decision need.

Measurements on calibration rows compare the lossy build with the exact build of the
same level: agreement with the original model's predictions (classes; for
regressors, outputs within 1% of the calibration output range), accuracy when labels
are given (R^2 for regressors), model bytes from the C backend's flash estimate for
the target, and the mean number of trees a prediction evaluates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from ...backends.c.plan import lossy_exit_note
from ...calibration import check_calibration, match_labels
from ...cost import exit_batch, flash_bytes
from ...errors import EmlcError
from ...ir.ensemble import Ensemble, Task
from ...ir.interpret import interpret, interpret_early_exit, interpret_trees_evaluated, leaf_indices
from ...ir.verify import verify
from ...targets import get_target
from ..manager import optimize
from .cluster_leaves import cluster_leaves, leaves_per_class as cluster_per_class
from .confidence_exit import confidence_exit, reorder_trees
from .hard_vote import hard_vote as to_hard_vote
from .quantize_leaves import quantize_leaves

#: regression outputs agree when within this share of the calibration output range.
REGRESSION_TOLERANCE = 0.01


@dataclass(frozen=True)
class LossySettings:
    """The lossy knobs; ``None``/``False`` leaves a knob off."""

    leaf_bits: int | None = None
    leaf_clusters: int | None = None
    leaves_per_class: int | None = None
    hard_vote: bool = False
    early_exit: float | None = None
    #: trees between exit checks; None: the target's choice (:func:`emlc.cost.exit_batch`)
    early_exit_batch: int | None = None
    reorder: bool = False

    def label(self) -> str:
        parts = []
        if self.hard_vote:
            parts.append("hard vote")
        if self.leaves_per_class is not None:
            parts.append(f"{self.leaves_per_class}/class")
        if self.leaf_clusters is not None:
            parts.append(f"{self.leaf_clusters} clusters")
        if self.leaf_bits is not None:
            parts.append(f"{self.leaf_bits}-bit")
        if self.early_exit is not None:
            parts.append(f"exit {self.early_exit:g}" + (f" x{self.early_exit_batch}" if (self.early_exit_batch or 1) > 1 else ""))
        return ", ".join(parts) or "exact"


@dataclass(frozen=True)
class Measure:
    """One build measured: flash bytes, and on calibration rows agreement/accuracy/trees."""

    bytes: int
    agreement: float | None = None
    accuracy: float | None = None
    mean_trees: float | None = None


@dataclass(frozen=True)
class LossyReport:
    settings: LossySettings
    target: str
    layout: str
    before: Measure
    after: Measure
    rows: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def table(self) -> str:
        """Before/after as aligned text lines (what the CLI prints)."""

        def cell(v, pct: bool) -> str:
            return "-" if v is None else f"{100 * v:.2f}%" if pct else f"{v:.2f}" if isinstance(v, float) else str(v)

        lines = [f"lossy: {self.settings.label()} (target {self.target}, layout {self.layout}, {self.rows} calibration rows)"]
        lines.append(f"{'':<14}{'exact':>12}{'lossy':>12}")
        for name, key, pct in (("bytes", "bytes", False), ("agreement", "agreement", True),
                               ("accuracy", "accuracy", True), ("mean trees", "mean_trees", False)):
            a, b = getattr(self.before, key), getattr(self.after, key)
            if a is None and b is None:
                continue
            lines.append(f"{name:<14}{cell(a, pct):>12}{cell(b, pct):>12}")
        return "\n".join(lines + list(self.notes))

    def as_dict(self) -> dict:
        return asdict(self)


#: flash bytes of a build of (ensemble, target, layout, -O level): the callers that can
#: emit code pass the C backend's estimate (emlc.backends.c.flash_estimate), which counts
#: the tables it writes at that level; passes alone have the cost model's IR estimate.
Sizer = Callable[[Ensemble, str, str, str], int]


def model_bytes(ens: Ensemble, target: str, layout: str, level: str = "O2") -> int:
    """Flash bytes the cost model estimates for ``ens`` on ``target`` from the IR (-Os
    packs table records)."""
    return flash_bytes(ens, get_target(target), layout, packed=level == "Os")


def agreement(ens: Ensemble, reference: np.ndarray, X: np.ndarray) -> float:
    """Share of rows where the (early-exiting) predict matches ``reference``."""
    pred = predict(ens, X)
    if ens.task is Task.REGRESSION or ens.task is Task.RANKING:
        span = float(np.ptp(reference)) if reference.size else 0.0
        close = np.abs(np.asarray(pred, np.float64) - reference) <= REGRESSION_TOLERANCE * span
        return float(np.mean(close.all(axis=1) if close.ndim == 2 else close))
    return float(np.mean(pred == reference))


def predict(ens: Ensemble, X: np.ndarray) -> np.ndarray:
    return interpret_early_exit(ens, X) if ens.early_exit is not None else interpret(ens, X)


def accuracy(ens: Ensemble, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy for classifiers and anomaly detectors, R^2 for regressors."""
    pred = predict(ens, X)
    if ens.task in (Task.REGRESSION, Task.RANKING):
        y = y.astype(np.float64)
        resid = float(np.sum((y - np.asarray(pred, np.float64).reshape(y.shape)) ** 2))
        total = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - resid / total if total > 0 else float(resid == 0)
    return float(np.mean(pred == match_labels(y, ens.classes)))


def measure(ens: Ensemble, original: Ensemble, target: str, layout: str, X=None, y=None,
            size: Sizer = model_bytes, level: str = "O2") -> Measure:
    size = size(ens, target, layout, level)
    if X is None:
        return Measure(bytes=size)
    reference = np.asarray(interpret(original, X))
    return Measure(
        bytes=size,
        agreement=agreement(ens, reference, X),
        accuracy=None if y is None else accuracy(ens, X, y),
        mean_trees=float(interpret_trees_evaluated(ens, X).mean()),
    )


def compress(ens: Ensemble, s: LossySettings, *, X=None, level: str = "O2", target: str = "host",
             layout: str | None = None) -> tuple[Ensemble, str, str | None]:
    """The lossy build of ``ens`` for settings ``s``, its C layout, and why its early exit
    was left out (None if it was kept or not asked for)."""
    out, chosen = compress_leaves(ens, s, X=X, level=level, target=target, layout=layout)
    built, note = add_exit(out, s, X, target, chosen)
    return built, chosen, note


def compress_leaves(ens: Ensemble, s: LossySettings, *, X=None, level: str = "O2", target: str = "host",
                    layout: str | None = None) -> tuple[Ensemble, str]:
    """Every step of :func:`compress` but the early exit (searches reuse it across thresholds)."""
    if s.leaf_clusters is not None and s.leaves_per_class is not None:
        raise EmlcError("give either a number of leaf clusters or leaves per class, not both")
    out = to_hard_vote(ens) if s.hard_vote else ens
    hits = None if X is None else np.bincount(leaf_indices(ens, X).ravel(), minlength=ens.leaves.shape[0])
    if s.leaves_per_class is not None:
        out = cluster_per_class(out, s.leaves_per_class, hits if not s.hard_vote else None)
    elif s.leaf_clusters is not None:
        out = cluster_leaves(out, s.leaf_clusters, hits if not s.hard_vote else None)
    if s.leaf_bits is not None:
        out = quantize_leaves(out, s.leaf_bits)
    result = optimize(verify(out), level=level, target=target, layout=layout)
    return result.ensemble, result.layout


def _exit_batch(ens: Ensemble, threshold: float, X, target: str, layout: str | None) -> int:
    """The target's check interval (:func:`emlc.cost.exit_batch`), from the trees a row
    evaluates with a check every tree when calibration rows ``X`` are given."""
    evaluated = None
    if X is not None:
        evaluated = float(interpret_trees_evaluated(confidence_exit(ens, threshold), X).mean())
    return exit_batch(ens, get_target(target), layout, evaluated)


def add_exit(ens: Ensemble, s: LossySettings, X=None, target: str = "host",
             layout: str | None = None) -> tuple[Ensemble, str | None]:
    """The confidence early exit of ``s`` (if any) on an optimised build, and why it was
    left out: when its checks would cost the C build on ``target`` and ``layout`` more than
    they save (:func:`emlc.backends.c.plan.lossy_exit_note`), the IR does not carry it (it
    keeps the level's exact exit, if any), so that predict there still equals the
    interpreter's."""
    if s.early_exit is None:
        return ens, None
    if s.reorder and X is not None:
        ens = reorder_trees(ens, X)
    batch = s.early_exit_batch or _exit_batch(ens, s.early_exit, X, target, layout)
    out = verify(confidence_exit(ens, s.early_exit, batch))
    note = lossy_exit_note(out, get_target(target), layout)
    return (out, None) if note is None else (ens, note)  # the optimised build, its exact exit kept


def apply_lossy(
    ens: Ensemble,
    *,
    leaf_bits: int | None = None,
    leaf_clusters: int | None = None,
    leaves_per_class: int | None = None,
    hard_vote: bool = False,
    early_exit: float | None = None,
    early_exit_batch: int | None = None,
    reorder: bool = False,
    calibration: tuple | None = None,
    level: str = "O2",
    target: str = "host",
    layout: str | None = None,
    size: Sizer = model_bytes,
) -> tuple[Ensemble, LossyReport]:
    """Compress ``ens`` with the given knobs, optimise it at ``level``, and report the cost.

    ``calibration`` is ``(X, y_or_None)``; without it only bytes are reported.
    """
    s = LossySettings(leaf_bits, leaf_clusters, leaves_per_class, hard_vote, early_exit, early_exit_batch, reorder)
    verify(ens)
    tgt = get_target(target).name
    X = y = None
    if calibration is not None:
        X, y = check_calibration(calibration[0], calibration[1], ens.n_features)
    exact = optimize(ens, level=level, target=tgt, layout=layout)
    lossy, layout, left_out = compress(ens, s, X=X, level=level, target=tgt, layout=layout)
    notes: tuple[str, ...] = () if left_out is None else (left_out,)
    if X is None:
        notes += ("no calibration data: agreement not measured (pass --calibration FILE)",)
    report = LossyReport(
        settings=s,
        target=tgt,
        layout=layout,
        before=measure(exact.ensemble, ens, tgt, exact.layout, X, y, size, level),
        after=measure(lossy, ens, tgt, layout, X, y, size, level),
        rows=0 if X is None else int(X.shape[0]),
        notes=notes,
    )
    return lossy, report
