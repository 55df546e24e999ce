"""Calibration data: the rows on which lossy compression measures what it costs.

Accepted files: CSV (numbers, an optional header line, an optional label column),
``.npy`` (a 2-D array of features) and ``.npz`` (array ``X`` and optional ``y``).
Labels may be numbers or class names; :func:`match_labels` converts them to the
model's class labels so accuracy compares like with like.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .errors import EmlcError

#: where the label column of a CSV file is.
LABEL_COLUMNS = ("none", "first", "last")
_MISSING = {"", "nan", "NaN", "NA", "?"}


def _number(cell: str) -> float:
    cell = cell.strip()
    return np.nan if cell in _MISSING else float(cell)


def _is_numeric(row: list[str]) -> bool:
    try:
        [_number(c) for c in row]
    except ValueError:
        return False
    return True


def _read_csv(path: Path, labels: str) -> tuple[np.ndarray, np.ndarray | None]:
    with path.open(newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if not rows:
        raise EmlcError(f"calibration file {path} holds no rows; give at least one row of feature values")
    feature_cols = slice(1, None) if labels == "first" else slice(None, -1) if labels == "last" else slice(None)
    if not _is_numeric(rows[0][feature_cols]):
        rows = rows[1:]
    if not rows:
        raise EmlcError(f"calibration file {path} holds only a header; add rows of feature values")
    width = len(rows[0])
    X = np.empty((len(rows), width - (labels != "none")))
    y: list[str] = []
    for i, row in enumerate(rows):
        if len(row) != width:
            raise EmlcError(f"{path} line {i + 1}: {len(row)} columns where the first row has {width}; every row needs the same columns")
        cells = row[feature_cols]
        for j, cell in enumerate(cells):
            try:
                X[i, j] = _number(cell)
            except ValueError:
                raise EmlcError(
                    f"{path}: row {i + 1}, feature column {j + 1} is {cell.strip()!r}, not a number; "
                    "calibration features must be numeric (name the label column with --calibration-labels)"
                ) from None
        if labels != "none":
            y.append(row[0 if labels == "first" else -1].strip())
    return X, (np.asarray(y) if labels != "none" else None)


def _read_numpy(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise EmlcError(f"cannot read {path} as a NumPy file ({e}); save plain arrays with numpy.save/savez") from None
    if path.suffix == ".npy":
        return data, None
    if "X" not in data.files:
        raise EmlcError(f"{path} has arrays {', '.join(data.files) or 'none'} but no 'X'; save it with numpy.savez(path, X=..., y=...)")
    return data["X"], (data["y"] if "y" in data.files else None)


def load_calibration(path: str | Path, n_features: int, labels: str = "none") -> tuple[np.ndarray, np.ndarray | None]:
    """Features ``X`` (float64 [rows, n_features]) and labels ``y`` (or None) from a file."""
    path = Path(path)
    if labels not in LABEL_COLUMNS:
        raise EmlcError(f"label column {labels!r} is not one of {', '.join(LABEL_COLUMNS)}")
    if not path.is_file():
        raise EmlcError(f"calibration file {path} does not exist; give a .csv, .npy or .npz file of input rows")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        if labels != "none" and suffix == ".npy":
            raise EmlcError(f"{path}: a .npy file holds features only; put labels in an .npz as y (numpy.savez(path, X=X, y=y))")
        X, y = _read_numpy(path)
    elif suffix in (".csv", ".txt"):
        X, y = _read_csv(path, labels)
    else:
        raise EmlcError(f"calibration file {path} has an unknown type {suffix or '(none)'}; use .csv, .npy or .npz")
    return check_calibration(X, y, n_features, str(path))


def check_calibration(X, y, n_features: int, source: str = "calibration data") -> tuple[np.ndarray, np.ndarray | None]:
    """Validate in-memory calibration arrays with the same messages as files get."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise EmlcError(f"{source}: features must be numeric, got {X.dtype} values")
    if X.ndim != 2:
        raise EmlcError(f"{source}: features must be a 2-D table (rows x features), got shape {X.shape}")
    if X.shape[1] != n_features:
        raise EmlcError(
            f"{source} has {X.shape[1]} feature columns but the model takes {n_features}; "
            "drop extra columns or mark the label column with --calibration-labels first|last"
        )
    if X.shape[0] == 0:
        raise EmlcError(f"{source} has no rows; lossy compression needs rows to measure agreement on")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise EmlcError(f"{source}: {y.shape} labels for {X.shape[0]} rows; give one label per row")
    return X.astype(np.float64), y


def match_labels(y: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """Labels converted to the model's class label type (numbers read from text become numbers)."""
    if classes is None:
        return y
    classes = np.asarray(classes)
    if classes.dtype.kind in "biuf" and y.dtype.kind not in "biuf":
        try:
            return y.astype(np.float64).astype(classes.dtype)
        except ValueError:
            raise EmlcError(f"labels such as {y[0]!r} are not numbers but the model's classes are {classes[:5].tolist()}") from None
    if classes.dtype.kind not in "biuf" and y.dtype.kind in "biuf":
        return y.astype(str)
    return y
