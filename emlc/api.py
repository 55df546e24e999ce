"""The Python API for tool authors: one call from a fitted model to code.

``compile`` is exactly what the command line does (the CLI is a thin shell over it);
``convert`` is a drop-in for emlearn's ``emlearn.convert`` for users moving over.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from enum import StrEnum
from typing import Any, TextIO

import numpy as np

from .cost import FlashBudget, Layout
from .errors import EmlcError
from .ir.ensemble import Ensemble
from .passes import OptimizeResult, optimize
from .calibration import check_calibration
from .backends.c import flash_estimate
from .passes.lossy.apply import LossySettings, Measure, apply_lossy, measure
from .targets import Target, get_target
from .float_traps import traps_off
from .input_note import InputNote, input_note

class OutputFormat(StrEnum):
    """What :func:`emit` writes (its value is what users type, ``--emit``)."""

    C = "c"
    CSV = "csv"
    MICROPYTHON = "micropython"
    LLVM = "llvm"
    OBJ = "obj"
    IR = "ir"


def output_format(value: OutputFormat | str) -> OutputFormat:
    try:
        return OutputFormat(value)
    except ValueError:
        raise EmlcError(f"unknown output format {value!r}; choose one of: {', '.join(v.value for v in OutputFormat)}") from None


@dataclass(frozen=True)
class Lossy:
    """Opt-in lossy compression (never part of an -O level); see emlc/passes/lossy/.

    ``settings`` are the knobs; ``max_accuracy_drop`` (a fraction: 0.01 is one
    percentage point) instead searches the knobs on the calibration data.
    """

    settings: LossySettings = LossySettings()
    max_accuracy_drop: float | None = None
    optimize_for: str = "size"

    @property
    def requested(self) -> bool:
        return self.max_accuracy_drop is not None or self.settings != LossySettings()


@dataclass(frozen=True)
class Compiled:
    """The emitted code plus what produced it (for reports).

    ``result`` holds the per-pass report of an exact build; ``lossy`` and ``budget``
    the measured cost of a lossy one; ``input_note`` what an integer ``input_type``
    costs (fractional or out-of-range thresholds, agreement on calibration rows).
    """

    code: str | bytes
    ensemble: Ensemble
    target: Target
    layout: str | None
    level: str
    result: OptimizeResult | None = None
    lossy: Any = None
    budget: Any = None
    measured: Measure | None = None
    input_note: InputNote | None = None
    float32_sums: bool = False
    #: the speed levels' flash budget, and the layout the C backend was held to (None: it chose)
    flash_budget: FlashBudget = FlashBudget()
    requested_layout: str | None = None


@traps_off
def emit(
    ens: Ensemble,
    emit: OutputFormat | str = OutputFormat.C,
    *,
    target: Target | str = "host",
    name: str = "model",
    layout: Layout | str | None = None,
    csv_flavor: str = "auto",
    speed: bool = True,
    float32_sums: bool = False,
    flash_budget: FlashBudget = FlashBudget(),
) -> str | bytes:
    """Write ``ens`` in one of the output formats (no optimisation).

    ``csv_flavor``: ``emlearn`` (emlearn-micropython's loader), ``emlc`` (the emlc_trees
    runtime's richer format) or ``auto`` (emlearn's when it is exact, else emlc's).
    ``speed`` (False at -Os): C may trade flash for speed (a second walk on AVR).
    ``float32_sums`` (lossy): on targets without a 64-bit double, C leaves float64 near-ties
    to float sums instead of deciding them in binary64 integer arithmetic (saves 4-5 KB on AVR,
    7.8 KB on the 8051). ``flash_budget``: C at the speed levels takes the fastest build
    within it (``layout`` None: either layout).
    """
    tgt = get_target(target)
    emit = output_format(emit)
    if emit is OutputFormat.IR:
        from .ir.text import print_ir

        return print_ir(ens)
    if emit is OutputFormat.C:
        from .backends.c import emit_c

        return emit_c(ens, target=tgt, name=name, layout=layout, speed=speed, float32_sums=float32_sums,
                      budget=flash_budget)
    if emit is OutputFormat.CSV:
        from .backends.micropython import emit_csv

        return emit_csv(ens, flavor=csv_flavor)
    if emit is OutputFormat.MICROPYTHON:
        from .backends.micropython import emit_micropython

        return emit_micropython(ens, name=name)
    from .backends.llvm import emit_llvm, emit_obj

    return (emit_llvm if emit is OutputFormat.LLVM else emit_obj)(ens, target=tgt.name, name=name)


@traps_off
def compile(
    model: Any,
    *,
    target: Target | str = "host",
    level: str = "O2",
    emit_as: OutputFormat | str = OutputFormat.C,
    name: str = "model",
    input_type: str | None = None,
    layout: str | None = None,
    passes: list[str] | None = None,
    print_ir_after: set[str] | str | None = None,
    stream: TextIO | None = None,
    trust_pickle: bool = False,
    csv_flavor: str = "auto",
    lossy: Lossy | None = None,
    calibration: tuple[Any, Any] | None = None,
    progress: Any = None,
    float32_sums: bool = False,
    flash_budget: FlashBudget = FlashBudget(),
) -> Compiled:
    """Load ``model`` (object or file), optimise it for ``target`` and emit code.

    ``calibration`` is ``(X, y_or_None)``: the rows lossy compression is measured on.
    ``float32_sums``: lossy, see :func:`emit`. ``flash_budget``: the flash the speed levels
    may give the model (default: half the target's); C takes the fastest build within it.
    """
    from .frontends import load

    tgt = get_target(target)
    source = load(model, trust_pickle=trust_pickle)
    ens = declare_for_target(source, tgt, input_type)
    note = None
    if ens.input_type != source.input_type:
        X = None if calibration is None else check_calibration(calibration[0], None, source.n_features)[0]
        note = input_note(source, ens.input_type, X)
    if lossy is not None and lossy.requested:
        if passes is not None:
            raise EmlcError("--passes cannot be combined with lossy compression; use an -O level")
        measured_in = layout or exact_c_layout(ens, tgt, level, emit_as, float32_sums, flash_budget)
        built = _compile_lossy(ens, lossy, calibration, level, tgt, progress, measured_in)
    else:
        result = optimize(ens, level=level, target=tgt, passes=passes, print_ir_after=print_ir_after, stream=stream,
                          budget=flash_budget)
        measured = None
        if calibration is not None:
            X, y = check_calibration(calibration[0], calibration[1], ens.n_features)
            measured = measure(result.ensemble, ens, tgt.name, layout or result.layout, X, y, flash_estimate, level)
        built = Compiled(
            code="", ensemble=result.ensemble, target=tgt, layout=result.layout, level=level,
            result=result, measured=measured,
        )
    speed = level != "Os"
    if output_format(emit_as) is OutputFormat.C:
        from .backends.c import header

        # the backend chooses the layout with the walk (lossy builds keep the one they were measured in)
        measured_in = built.layout if built.budget is not None or built.lossy is not None else None
        requested = layout or measured_in
        made = header(built.ensemble, tgt, name, requested, speed, float32_sums, flash_budget)
        code, chosen = made.code, made.choice.chosen.point.layout.value
    else:
        chosen, requested = layout or built.layout, layout
        code = emit(built.ensemble, emit_as, target=tgt, name=name, layout=chosen, csv_flavor=csv_flavor,
                    speed=speed, float32_sums=float32_sums)
    return replace(built, code=code, layout=chosen, input_note=note, float32_sums=float32_sums,
                   flash_budget=flash_budget, requested_layout=requested)


def exact_c_layout(ens: Ensemble, tgt: Target, level: str, emit_as: OutputFormat | str, float32_sums: bool,
                    flash_budget: FlashBudget) -> str | None:
    """The layout the C backend gives the exact build at a speed level (None for other
    outputs and -Os), which lossy options are measured in: so each is weighed against the
    build it replaces. (Digits 30x6 on the ATmega2560: the exact -O2 build is inline within
    the default budget, the IR's estimate alone says table, and the lossy exit measured in
    the table took twice the exact build's cycles.)"""
    if output_format(emit_as) is not OutputFormat.C or level == "Os":
        return None
    from .backends.c import header

    exact = optimize(ens, level=level, target=tgt, budget=flash_budget).ensemble
    return header(exact, tgt, "model", None, True, float32_sums, flash_budget).choice.chosen.point.layout.value


def _compile_lossy(ens: Ensemble, lossy: Lossy, calibration, level: str, tgt: Target, progress,
                   layout: str | None = None) -> Compiled:
    if lossy.max_accuracy_drop is not None:
        from .budget import search_budget

        if calibration is None:
            raise EmlcError("an accuracy budget needs calibration data to measure the drop on (--calibration FILE)")
        budget = search_budget(
            ens, calibration[0], calibration[1], max_drop=lossy.max_accuracy_drop, target=tgt.name,
            objective=lossy.optimize_for, level=level, progress=progress,
        )
        return Compiled(code="", ensemble=budget.ensemble, target=tgt, layout=budget.layout, level=level, budget=budget)
    out, report = apply_lossy(ens, **asdict(lossy.settings), calibration=calibration, level=level, target=tgt.name,
                              layout=layout, size=flash_estimate)
    return Compiled(code="", ensemble=out, target=tgt, layout=report.layout, level=level, lossy=report)


def declare_input(ens: Ensemble, input_type: str) -> Ensemble:
    """State the type the device passes features in; integer types make thresholds integers.

    Declaring ``int16`` means the caller promises integer feature values: emlc then
    compares ``x <= 3.5`` as ``x <= 3`` (exact for integers) instead of converting.
    ``float64`` only where the library itself compares float64: a library that casts
    features to float32 first (scikit-learn trees, XGBoost) would see other values.
    """
    from .ir.ensemble import INPUT_TYPES

    if input_type not in INPUT_TYPES:
        raise EmlcError(f"unknown input type {input_type!r}; choose one of: {', '.join(INPUT_TYPES)}")
    if input_type == "float64" and ens.input_type != "float64":
        raise EmlcError(
            f"--input float64: this model's library compares {ens.input_type} features, so float64 "
            f"values would not be exact; pass {ens.input_type} values (--input {ens.input_type})"
        )
    return ens.replace(input_type=input_type)


def declare_for_target(ens: Ensemble, target: Target, input_type: str | None) -> Ensemble:
    """The input type ``target``'s build takes: ``input_type`` when given, else the
    target's default for float64-comparing models (float32 on devices), else the library's."""
    if input_type is None:
        if ens.input_type != "float64" or target.default_float_input is None:
            return ens
        input_type = target.default_float_input
    if input_type == "float64" and not target.has_double:
        raise EmlcError(
            f"--input float64 needs a 64-bit double, and {target.name}'s double is {target.double_bits}-bit; "
            "use --input float32 (exact for every float32 feature value)"
        )
    return declare_input(ens, input_type)


class Converted:
    """What :func:`convert` returns: predicts like the model, saves a C header."""

    def __init__(self, compiled: Compiled, source: Ensemble, input_type: str | None):
        self.ensemble = compiled.ensemble
        self._compiled = compiled
        self._source = source
        self._input_type = input_type

    def predict(self, X) -> np.ndarray:
        from .ir.interpret import interpret

        return interpret(self.ensemble, X)

    def predict_proba(self, X) -> np.ndarray:
        from .ir.interpret import interpret_proba

        return interpret_proba(self.ensemble, X)

    def save(self, file: str | Path | None = None, name: str = "model", target: Target | str | None = None) -> str:
        """Write the C header (to ``file`` when given) and return its text: for the target
        :func:`convert` was given, or rebuilt from the source model for another one (its
        input type and passes may differ)."""
        built = self._compiled
        if target is not None and get_target(target) != built.target:
            built = compile(self._source, target=target, level=built.level, input_type=self._input_type,
                            layout=built.layout, emit_as="ir")
        code = emit(built.ensemble, "c", target=built.target, name=name, layout=built.layout,
                    speed=built.level != "Os")
        if file is not None:
            Path(file).write_text(code)
        return str(code)


@traps_off
def convert(estimator: Any, method: str = "inline", dtype: str = "float", level: str = "O2", target: Target | str = "host") -> Converted:
    """emlearn-style conversion: ``method`` 'inline' or 'loadable', ``dtype`` 'float' or an int type."""
    from .frontends import load

    layouts = {"inline": "inline", "loadable": "table", "table": "table"}
    if method not in layouts:
        raise EmlcError(f"unknown method {method!r}; choose 'inline' or 'loadable'")
    input_type = {"float": None, "float32": None}.get(dtype, dtype)
    source = load(estimator)
    compiled = compile(source, target=target, level=level, input_type=input_type, layout=layouts[method], emit_as="ir")
    return Converted(compiled, source, input_type)
