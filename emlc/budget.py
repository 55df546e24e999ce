"""``--max-accuracy-drop``: the smallest (or fastest) lossy build within a budget.

Tries a grid of knobs (hard vote, leaves per class or leaf clusters, 8/4-bit
leaves, and for speed confidence early-exit thresholds), measures each build on
the calibration rows, and keeps the best one whose drop stays within the budget:
the fall in accuracy when labels are given, else the share of rows whose prediction
differs from the original model's. The exact build always qualifies, so there is
always an answer. The drop is measured on calibration data; on new data it varies
by sampling noise (about ``sqrt(p (1 - p) / rows)``), so calibrate on rows that look
like deployment data and leave some slack in the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable


from .calibration import check_calibration
from .errors import EmlcError
from .extras import require
from .ir.ensemble import Ensemble, Task
from .ir.verify import verify
from .backends.c import flash_estimate
from .passes.lossy.apply import LossySettings, add_exit, compress_leaves, measure
from .passes.lossy.confidence_exit import votes_as_mean
from .passes.lossy.hard_vote import check_forest
from .passes.early_exit import supports
from .targets import get_target

OBJECTIVES = ("size", "speed")
LEAVES_PER_CLASS = (8, 4, 2, 1)
LEAF_CLUSTERS = (256, 64, 16, 4)
LEAF_BITS = (8, 4)
EXIT_THRESHOLDS = (1.0, 0.75, 0.5, 0.3, 0.2)


@dataclass(frozen=True)
class BudgetRow:
    settings: LossySettings
    bytes: int
    agreement: float
    accuracy: float | None
    mean_trees: float
    drop: float
    within: bool

    def as_dict(self) -> dict:
        return {
            "setting": self.settings.label(), "bytes": self.bytes, "agreement": self.agreement,
            "accuracy": self.accuracy, "mean_trees": self.mean_trees, "drop": self.drop, "within": self.within,
        }


@dataclass(frozen=True)
class BudgetResult:
    chosen: LossySettings
    ensemble: Ensemble
    layout: str
    max_drop: float
    objective: str
    rows: tuple[BudgetRow, ...] = field(default_factory=tuple)

    @property
    def best(self) -> BudgetRow:
        return next(r for r in self.rows if r.settings == self.chosen)

    def table(self) -> str:
        """The trade-off curve as aligned text, the chosen setting marked with '*'."""
        lines = [f"{'':2}{'setting':<32}{'bytes':>9}{'agreement':>11}{'accuracy':>10}{'trees':>7}{'drop':>8}"]
        for r in self.rows:
            acc = "-" if r.accuracy is None else f"{100 * r.accuracy:.2f}%"
            mark = "*" if r.settings == self.chosen else (" " if r.within else "x")
            lines.append(
                f"{mark:<2}{r.settings.label():<32}{r.bytes:>9}{100 * r.agreement:>10.2f}%{acc:>10}"
                f"{r.mean_trees:>7.2f}{100 * r.drop:>7.2f}%"
            )
        return "\n".join(lines)

    def plot(self, path: str) -> None:
        """Model bytes against agreement, one point per setting (needs matplotlib)."""
        require("matplotlib", "--plot").use("Agg")
        plt = require("matplotlib.pyplot", "--plot")
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in self.rows:
            colour = "tab:red" if r.settings == self.chosen else "tab:blue" if r.within else "tab:gray"
            ax.scatter(r.bytes, 100 * r.agreement, color=colour, s=24)
            ax.annotate(r.settings.label(), (r.bytes, 100 * r.agreement), fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.set_xlabel("model bytes (flash estimate)")
        ax.set_ylabel("agreement with the original model (%)")
        ax.set_title(f"lossy trade-offs, budget {100 * self.max_drop:g}% ({self.objective}); red: chosen")
        fig.tight_layout()
        try:
            fig.savefig(path, dpi=120)
        except OSError as e:
            raise EmlcError(f"cannot write the plot to {path}: {e.strerror or e}") from None
        finally:
            plt.close(fig)


def _leaf_settings(ens: Ensemble) -> list[LossySettings]:
    """Knob combinations that change the leaf table, cheapest-looking last."""
    classifier = ens.task is Task.CLASSIFICATION
    counts = [LossySettings(leaves_per_class=n) for n in LEAVES_PER_CLASS] if classifier else [
        LossySettings(leaf_clusters=k) for k in LEAF_CLUSTERS
    ]
    out = [LossySettings()]
    for base in [LossySettings(), *counts]:
        out += [replace(base, leaf_bits=b) for b in LEAF_BITS]
        if base != LossySettings():
            out.append(base)
    try:
        check_forest(ens, "hard vote")
        out.append(LossySettings(hard_vote=True))
    except EmlcError:
        pass
    return out


def search_budget(
    ens: Ensemble,
    X,
    y=None,
    max_drop: float = 0.01,
    target: str = "host",
    objective: str = "size",
    level: str = "O2",
    progress: Callable[[int, int, BudgetRow], None] | None = None,
) -> BudgetResult:
    """The best lossy build whose drop on ``(X, y)`` is at most ``max_drop`` (a fraction, 0.01 = 1%)."""
    if objective not in OBJECTIVES:
        raise EmlcError(f"unknown objective {objective!r}; choose one of: {', '.join(OBJECTIVES)}")
    if not (isinstance(max_drop, (int, float)) and 0 <= max_drop <= 1):
        raise EmlcError(f"the accuracy budget must be a fraction in [0, 1] (0.01 = 1 percentage point), got {max_drop!r}")
    verify(ens)
    X, y = check_calibration(X, y, ens.n_features)
    tgt = get_target(target).name
    settings = _leaf_settings(ens)
    thresholds: tuple[float | None, ...] = (None,)
    if objective == "speed" and ens.task is Task.CLASSIFICATION:
        thresholds = (None, *EXIT_THRESHOLDS)
    total = len(settings) * len(thresholds)
    rows: list[BudgetRow] = []
    builds: dict[LossySettings, tuple[Ensemble, str]] = {}
    reference: float | None = None
    for s in settings:
        leafy, layout = compress_leaves(ens, s, X=X, level=level, target=tgt)
        for t in thresholds:
            st = s if t is None else replace(s, early_exit=t)
            if st.early_exit is not None and not supports(votes_as_mean(leafy)):
                continue
            built, _ = add_exit(leafy, st, X, tgt, layout)
            m = measure(built, ens, tgt, layout, X, y, flash_estimate, level)
            score = m.accuracy if y is not None else m.agreement
            if reference is None:
                reference = score
            row = BudgetRow(st, m.bytes, m.agreement, m.accuracy, m.mean_trees, reference - score, reference - score <= max_drop + 1e-12)
            if any(r.settings == st for r in rows):
                continue
            rows.append(row)
            builds[st] = (built, layout)
            if progress is not None:
                progress(len(rows), total, row)
    key = (lambda r: (r.bytes, r.drop, r.mean_trees)) if objective == "size" else (lambda r: (r.mean_trees, r.bytes, r.drop))
    best = min((r for r in rows if r.within), key=key)
    built, layout = builds[best.settings]
    return BudgetResult(best.settings, built, layout, float(max_drop), objective, tuple(rows))
