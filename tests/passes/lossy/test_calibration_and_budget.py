"""Calibration loading, the before/after report and the budget search on small real models."""

from __future__ import annotations

import numpy as np
import pytest

from emlc.budget import search_budget
from emlc.calibration import load_calibration, match_labels
from emlc.errors import EmlcError
from emlc.ir.interpret import interpret
from emlc.passes.lossy.apply import apply_lossy


def test_csv_with_header_and_last_label_column(tmp_path):
    f = tmp_path / "cal.csv"
    f.write_text("a,b,label\n1.5,2,setosa\n,4e1,virginica\n")
    X, y = load_calibration(f, 2, labels="last")
    np.testing.assert_array_equal(X, [[1.5, 2.0], [np.nan, 40.0]])
    assert y.tolist() == ["setosa", "virginica"]


def test_csv_without_header_or_labels(tmp_path):
    f = tmp_path / "cal.csv"
    f.write_text("1,2\n3,4\n")
    X, y = load_calibration(f, 2)
    assert X.shape == (2, 2) and y is None


def test_npy_and_npz(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((3, 4)))
    np.savez(tmp_path / "xy.npz", X=np.zeros((2, 4)), y=np.array([0, 1]))
    assert load_calibration(tmp_path / "x.npy", 4)[0].shape == (3, 4)
    X, y = load_calibration(tmp_path / "xy.npz", 4)
    assert X.shape == (2, 4) and y.tolist() == [0, 1]


@pytest.mark.parametrize(
    "name, content, labels, message",
    [
        ("wide.csv", "1,2,3\n", "none", "3 feature columns but the model takes 2"),
        ("text.csv", "1,2\n1,abc\n", "none", "row 2, feature column 2 is 'abc', not a number"),
        ("ragged.csv", "1,2\n1\n", "none", "every row needs the same columns"),
        ("empty.csv", "", "none", "holds no rows"),
        ("model.txt.gz", "1,2\n", "none", "unknown type"),
    ],
)
def test_bad_calibration_files(tmp_path, name, content, labels, message):
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(EmlcError, match=message):
        load_calibration(f, 2, labels=labels)


def test_missing_file_and_npz_without_x(tmp_path):
    with pytest.raises(EmlcError, match="does not exist"):
        load_calibration(tmp_path / "nope.csv", 2)
    np.savez(tmp_path / "bad.npz", features=np.zeros((2, 2)))
    with pytest.raises(EmlcError, match="no 'X'"):
        load_calibration(tmp_path / "bad.npz", 2)


def test_text_labels_become_numeric_classes():
    assert match_labels(np.array(["3", "7.0"]), np.array([3, 7])).tolist() == [3, 7]
    with pytest.raises(EmlcError, match="not numbers"):
        match_labels(np.array(["cat"]), np.array([0, 1]))


def test_apply_lossy_reports_before_and_after(digits_forest):
    ens, X = digits_forest
    y = interpret(ens, X)
    out, report = apply_lossy(ens, leaves_per_class=2, leaf_bits=8, calibration=(X, y), target="avr")
    assert out.leaves.shape[0] <= 20 and out.leaves.dtype == np.uint8
    assert report.after.bytes < report.before.bytes
    assert report.before.agreement == 1.0 and report.before.accuracy == 1.0
    expected = float(np.mean(interpret(out, X) == y))
    assert report.after.agreement == pytest.approx(expected) and report.after.accuracy == pytest.approx(expected)
    assert "2/class, 8-bit" in report.table()


def test_apply_lossy_early_exit_reports_fewer_trees(digits_forest):
    ens, X = digits_forest
    out, report = apply_lossy(ens, early_exit=0.5, calibration=(X, None))
    assert out.early_exit is not None and out.early_exit.confidence == 0.5
    assert report.after.mean_trees < report.before.mean_trees <= ens.n_trees
    assert report.after.accuracy is None


def test_apply_lossy_without_calibration_reports_bytes_only(digits_forest):
    _, report = apply_lossy(digits_forest[0], hard_vote=True)
    assert report.after.agreement is None and "no calibration data" in report.table()


def test_budget_choice_is_the_smallest_within_budget(small_forest):
    ens, X = small_forest
    seen = []
    result = search_budget(ens, X, None, max_drop=0.02, target="avr", progress=lambda i, n, row: seen.append((i, n)))
    assert seen and seen[-1][0] == len(result.rows) and all(n >= i for i, n in seen)
    within = [r for r in result.rows if r.within]
    assert all(r.drop <= 0.02 for r in within)
    assert result.best.bytes == min(r.bytes for r in within)
    agreement = float(np.mean(interpret(result.ensemble, X) == interpret(ens, X)))
    assert agreement == pytest.approx(result.best.agreement) and 1 - agreement <= 0.02
    zero = search_budget(ens, X, None, max_drop=0.0, target="avr")
    assert zero.best.agreement == 1.0


def test_budget_speed_objective_uses_early_exit(small_forest):
    ens, X = small_forest
    result = search_budget(ens, X, None, max_drop=0.05, objective="speed")
    exact = next(r for r in result.rows if r.settings.label() == "exact")
    assert result.best.mean_trees < exact.mean_trees
    assert result.chosen.early_exit is not None


def test_budget_plot(small_forest, tmp_path):
    pytest.importorskip("matplotlib")
    ens, X = small_forest
    result = search_budget(ens, X, None, max_drop=0.01)
    result.plot(str(tmp_path / "curve.png"))
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert result.table().count("\n") == len(result.rows)


def test_budget_rejects_bad_requests(small_forest):
    ens, X = small_forest
    with pytest.raises(EmlcError, match="fraction in"):
        search_budget(ens, X, None, max_drop=5)
    with pytest.raises(EmlcError, match="unknown objective"):
        search_budget(ens, X, None, objective="cheap")
    with pytest.raises(EmlcError, match="feature columns"):
        search_budget(ens, X[:, :3], None)
