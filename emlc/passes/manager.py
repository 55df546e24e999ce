"""The pass manager: a registry of passes, optimisation levels and ``optimize``.

A pass is a pure function ``Ensemble -> Ensemble`` wrapped in :class:`Pass` with its
name and whether it is lossless (changes no prediction, probability or raw margin
for any input); its module docstring states what it guarantees. The IR is verified
before the first pass and after every pass, so a broken pass is caught where it
breaks, not in a backend.
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable, TextIO

from ..errors import EmlcError, IRError
from ..ir.ensemble import Ensemble
from ..ir.text import print_ir
from ..ir.verify import verify
from ..targets import Target, get_target
from ..text_table import aligned
from ..cost import FlashBudget, Layout, choose_layout, flash_bytes
from .dedup_leaves import dedup_leaves
from .early_exit import early_exit
from .fold_redundant_splits import fold_redundant_splits
from .merge_subtrees import merge_subtrees
from .narrow_types import narrow_types
from .preorder_layout import preorder_layout
from .prune_dead import prune_dead
from .quantize_thresholds import quantize_thresholds
from .rank_features import rank_features
from .lossy.cluster_leaves import leaves_per_class_2
from .lossy.hard_vote import hard_vote
from .lossy.quantize_leaves import quantize_leaves_4, quantize_leaves_8
from ..float_traps import traps_off
from ..gc_pause import gc_paused


@dataclass(frozen=True)
class Pass:
    """A named IR-to-IR rewrite; ``lossless`` passes keep every interpreter result bit for bit."""

    name: str
    run: Callable[[Ensemble], Ensemble]
    lossless: bool = True

    @property
    def doc(self) -> str:
        """What the pass guarantees: its module's docstring."""
        return inspect.getdoc(sys.modules[self.run.__module__]) or ""

    def __call__(self, ens: Ensemble) -> Ensemble:
        return self.run(ens)


PASSES: dict[str, Pass] = {
    p.name: p
    for p in (
        Pass("prune_dead", prune_dead),
        Pass("fold_redundant_splits", fold_redundant_splits),
        Pass("quantize_thresholds", quantize_thresholds),
        Pass("rank_features", rank_features),
        Pass("merge_subtrees", merge_subtrees),
        Pass("dedup_leaves", dedup_leaves),
        Pass("narrow_types", narrow_types),
        Pass("preorder_layout", preorder_layout),
        Pass("early_exit", early_exit),
        Pass("hard_vote", hard_vote, lossless=False),
        Pass("leaves_per_class_2", leaves_per_class_2, lossless=False),
        Pass("quantize_leaves_8", quantize_leaves_8, lossless=False),
        Pass("quantize_leaves_4", quantize_leaves_4, lossless=False),
    )
}

LEVELS = ("O0", "O1", "O2", "Os")


def pipeline(level: str, target: Target) -> list[str]:
    """The passes a level runs on a target, in order.

    O1 is cheap and lossless; O2 and Os run every lossless pass. O2 ranks float
    features only on targets without an FPU (integer compares replace soft-float
    calls) and adds early exit; Os ranks features always (one-byte thresholds) and
    leaves out early exit, whose bounds cost flash.
    """
    if level not in LEVELS:
        raise EmlcError(f"unknown optimisation level {level!r}; choose one of: {', '.join(LEVELS)}")
    if level == "O0":
        return []
    if level == "O1":
        return ["prune_dead", "fold_redundant_splits", "dedup_leaves", "preorder_layout"]
    rank = ["rank_features"] if level == "Os" or not target.has_fpu else []
    tail = ["early_exit"] if level == "O2" else []
    return [
        "prune_dead", "fold_redundant_splits", "quantize_thresholds", *rank,
        "merge_subtrees", "dedup_leaves", "narrow_types", "preorder_layout", *tail,
    ]


@dataclass(frozen=True)
class PassReport:
    """Sizes before and after one pass.

    ``decision_nodes`` counts splits (leaves apart), as the backends' size reports do;
    ``ir_bytes`` is the cost model's estimate (:mod:`emlc.cost`) in the result's
    layout, with the tables estimated from the IR, which compares passes and picks the
    layout: the C backend's own (``size_report``) counts the tables it emits and the
    code only its plan knows about (leaf sums, the binary64 step).
    """

    name: str
    decision_nodes: tuple[int, int]
    leaves: tuple[int, int]
    leaf_rows: tuple[int, int]
    ir_bytes: tuple[int, int]


#: the per-pass table's heading, one column per PassReport field.
PASS_COLUMNS = ("pass", "decision nodes", "leaves", "leaf rows", "IR estimate B")


def pass_table(passes: Iterable[PassReport]) -> str:
    """The per-pass report as an aligned text table (the CLI's --report prints this one)."""
    rows = [PASS_COLUMNS] + [
        (r.name, *(f"{a} -> {b}" for a, b in (r.decision_nodes, r.leaves, r.leaf_rows, r.ir_bytes)))
        for r in passes
    ]
    return aligned(rows)


@dataclass(frozen=True)
class OptimizeResult:
    ensemble: Ensemble
    level: str
    target: Target
    layout: str
    passes: tuple[PassReport, ...] = field(default_factory=tuple)

    def table(self) -> str:
        """The per-pass report as an aligned text table."""
        return pass_table(self.passes)


def check_pass_names(names: Iterable[str], what: str = "pass") -> list[str]:
    names = list(names)
    unknown = [n for n in names if n not in PASSES]
    if unknown:
        raise EmlcError(f"unknown {what} {unknown[0]!r}; valid passes: {', '.join(PASSES)}")
    return names


def _run_one(p: Pass, ens: Ensemble, check: bool) -> Ensemble:
    out = p(ens)
    if not p.lossless and out.early_exit is ens.early_exit:
        out = out.replace(early_exit=None)
    if not check:
        return out
    try:
        return verify(out)
    except IRError as e:
        raise IRError(f"internal error: pass {p.name} produced invalid IR: {e}") from e


@traps_off
@gc_paused
def optimize(
    ens: Ensemble,
    level: str = "O2",
    target: Target | str = "host",
    passes: list[str] | None = None,
    print_ir_after: set[str] | str | None = None,
    stream: TextIO | None = None,
    layout: str | None = None,
    verify_each: bool | None = None,
    budget: FlashBudget = FlashBudget(),
) -> OptimizeResult:
    """Run a level's pipeline (or the given ``passes``) and pick the code layout.

    ``print_ir_after`` names passes (or ``"all"``) after which the IR text is written
    to ``stream`` (stderr by default); ``layout`` overrides the cost model's choice (within
    ``budget`` at the speed levels; the C backend refines it with the walk).
    The input and the result are verified; ``verify_each`` (default: the environment
    variable ``EMLC_VERIFY_EACH`` set, as the tests do) verifies after every pass too,
    naming the pass that broke the IR (a fifth of the time of big models otherwise).
    """
    tgt = get_target(target)
    names = pipeline(level, tgt) if passes is None else check_pass_names(passes)
    if level not in LEVELS:
        raise EmlcError(f"unknown optimisation level {level!r}; choose one of: {', '.join(LEVELS)}")
    if layout is not None and layout not in tuple(Layout):
        raise EmlcError(f"unknown layout {layout!r}; choose one of: {', '.join(v.value for v in Layout)}")
    show: set[str] = set(PASSES) if print_ir_after == "all" else set(print_ir_after or ())
    check_pass_names(show, "pass in print_ir_after")
    out = stream if stream is not None else sys.stderr
    verify(ens)
    each = bool(os.environ.get("EMLC_VERIFY_EACH")) if verify_each is None else verify_each
    # Each step's sizes once (every step is one pass's result and the next one's input),
    # in both layouts, so no intermediate ensemble outlives the pass that reads it.
    packed = level == "Os"  # -Os packs table records; the speed levels' records differ
    sizes = [_sizes(ens, tgt, packed)]
    for name in names:
        before, ens = ens, _run_one(PASSES[name], ens, each)
        sizes.append(sizes[-1] if ens is before else _sizes(ens, tgt, packed))
        if name in show:
            out.write(f"// IR after {name}\n{print_ir(ens)}")
    if not each and names:
        try:
            verify(ens)
        except IRError as e:
            raise IRError(f"internal error: the optimized IR is invalid ({e}); EMLC_VERIFY_EACH=1 names the pass") from e
    chosen = Layout(layout) if layout is not None else choose_layout(ens, tgt, level, budget)
    reports = tuple(
        PassReport(
            name=name,
            decision_nodes=(sizes[i][0], sizes[i + 1][0]),
            leaves=(sizes[i][1], sizes[i + 1][1]),
            leaf_rows=(sizes[i][2], sizes[i + 1][2]),
            ir_bytes=(sizes[i][3][chosen], sizes[i + 1][3][chosen]),
        )
        for i, name in enumerate(names)
    )
    return OptimizeResult(ensemble=ens, level=level, target=tgt, layout=chosen, passes=reports)


def _sizes(ens: Ensemble, target: Target, packed: bool) -> tuple[int, int, int, dict[str, int]]:
    """Decision nodes, leaves, leaf rows and the IR estimate in each layout (``packed``:
    the -Os table records)."""
    return (ens.n_nodes - ens.n_leaves, ens.n_leaves, ens.leaves.shape[0],
            {lay: flash_bytes(ens, target, lay, packed=packed) for lay in Layout})
