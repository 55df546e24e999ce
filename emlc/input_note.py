"""What declaring integer inputs (``--input int16|int8|uint8``) costs a model's users.

An integer declaration is exact for integer feature values: ``x <= 2.45`` becomes
``x <= 2``. A device that reads fractional values and converts them to the declared
type truncates them first, and a truncated value may take the other branch; a
threshold outside the type's range makes its split go one way for every value the
type holds. Neither is an error (the user asked for it), so the cost is a note:
how many thresholds it touches and, on calibration rows, how many predictions the
truncation changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir.ensemble import Ensemble, Op
from .passes.fold_redundant_splits import INT_RANGES
from .passes.quantize_thresholds import integer_thresholds


@dataclass(frozen=True)
class InputNote:
    """The thresholds an integer input type touches, and the agreement truncation keeps.

    Thresholds are counted once per distinct (feature, threshold) pair of the ``<=``/``<``
    splits on unranked features. ``agreement`` compares the float model on the
    calibration rows with the declared model on the same rows truncated to the type
    (``None`` without calibration rows holding fractional values).
    """

    input_type: str
    thresholds: int
    fractional: int
    out_of_range: int
    rows: int = 0
    fractional_rows: int = 0
    agreement: float | None = None

    def text(self) -> str:
        """One line for the user: counts, then what they mean."""
        lo, hi = INT_RANGES[self.input_type]
        parts = []
        if self.fractional:
            parts.append(f"{self.fractional} of {self.thresholds} thresholds are fractional")
        if self.out_of_range:
            parts.append(
                f"{self.out_of_range} of {self.thresholds} lie outside {self.input_type}'s range "
                f"[{lo}, {hi}] (those splits send every {self.input_type} value one way)"
            )
        line = " and ".join(parts) + "; " if parts else ""
        line += (
            f"--input {self.input_type} compares integer feature values exactly, "
            "a fractional device value is truncated first"
        )
        if self.agreement is not None:
            changed = round((1 - self.agreement) * self.rows)
            line += (
                f"; on the calibration data ({self.fractional_rows} of {self.rows} rows fractional) "
                f"truncation changes {changed} prediction(s): {100 * self.agreement:.2f}% agreement"
            )
        return line


def input_note(ens: Ensemble, input_type: str, X: np.ndarray | None = None) -> InputNote | None:
    """The note for declaring ``input_type`` on ``ens`` (float inputs as trained), or None
    when it costs nothing that can be shown: every threshold integral and in range, and no
    calibration row ``X`` holding a fractional value."""
    if input_type.startswith("float"):
        return None
    op, feature, threshold = ens.column("op"), ens.column("feature"), ens.column("threshold")
    ranked = np.array([r is not None for r in ens.feature_ranks] or [False] * ens.n_features)
    split = ((op == Op.LE) | (op == Op.LT)) & ~ranked[np.maximum(feature, 0)]
    key = np.stack([feature[split], op[split], threshold[split]]).astype(np.float64)
    f_op_t = np.unique(key, axis=1)
    t = f_op_t[2]
    integer = integer_thresholds(f_op_t[1], t)
    lo, hi = INT_RANGES[input_type]
    note = InputNote(
        input_type=input_type,
        thresholds=int(t.size),
        fractional=int((np.isfinite(t) & (t != np.floor(t))).sum()),
        out_of_range=int(((integer < lo) | (integer >= hi)).sum()),
    )
    if X is not None:
        note = _measured(ens, input_type, np.asarray(X, dtype=np.float64), note)
    if note.fractional or note.out_of_range or note.agreement is not None:
        return note
    return None


def _measured(ens: Ensemble, input_type: str, X: np.ndarray, note: InputNote) -> InputNote:
    """``note`` with the agreement truncation keeps on the finite rows of ``X`` (integer
    inputs are never NaN), when some of them hold fractional values."""
    from dataclasses import replace

    from .ir.interpret import interpret

    X = X[np.isfinite(X).all(axis=1)]
    fractional = (X != np.trunc(X)).any(axis=1)
    if not fractional.any():
        return note
    lo, hi = INT_RANGES[input_type]
    truncated = np.clip(np.trunc(X), lo, hi)
    same = np.asarray(interpret(ens, X)) == np.asarray(interpret(ens.replace(input_type=input_type), truncated))
    return replace(note, rows=int(X.shape[0]), fractional_rows=int(fractional.sum()), agreement=float(same.mean()))
