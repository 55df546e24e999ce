"""Damaged or truncated model files raise ValueError("line N: ...") on the device, never predict."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

import emlc
from emlc.backends.micropython.emlc_csv import emit_emlc_csv
from emlc.backends.micropython.emlearn_csv import emit_emlearn_csv
from emlc.passes.lossy import confidence_exit
from emlc.paths import runtime_dir
from tests.e2e.mpy import require_micropython, run_micropython

RUNTIME = (runtime_dir() / "micropython" / "emlc_trees.py").read_text()


def _models() -> dict[str, str]:
    X, y = load_iris(return_X_y=True)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    Xi = np.round(X * 10).astype(np.int16)
    pure = DecisionTreeClassifier(random_state=0).fit(Xi, y)
    forest = RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0).fit(X, y)
    return {
        "emlc": emit_emlc_csv(emlc.load(tree)),
        "exit": emit_emlc_csv(confidence_exit(emlc.load(forest), 0.6)),
        "emlearn": emit_emlearn_csv(emlc.load(pure).replace(input_type="int16")),
    }


def _replace_record(text: str, kind: str, field: int, value: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        tok = line.split(",")
        if tok[0] == kind:
            tok[field] = value
            lines[i] = ",".join(tok)
            return "\n".join(lines) + "\n"
    raise AssertionError(f"no {kind} record")


def _damaged(name: str, text: str) -> dict[str, str]:
    lines = text.splitlines(keepends=True)
    out = {f"{name}_cut{k}": "".join(lines[:k]) for k in range(len(lines))}
    out[f"{name}_midline"] = text[: len(text) - 3]
    out[f"{name}_feature"] = _replace_record(text, "n", 1, "99")
    out[f"{name}_threshold"] = _replace_record(text, "n", 2, "1.2.3")
    out[f"{name}_loop"] = _replace_record(text, "n", 3, "0")
    out[f"{name}_child"] = _replace_record(text, "n", 4, "4000")
    out[f"{name}_leafref"] = _replace_record(text, "n", 4, "-999")
    out[f"{name}_endcount"] = _replace_record(text, "e", 1, "3")
    out[f"{name}_extra"] = text + "n,0,1,2,3\n"
    if name == "emlearn":
        out["emlearn_class"] = _replace_record(text, "l", 1, "7")
        out["emlearn_int16"] = _replace_record(text, "n", 2, "40000")
        out["emlearn_root"] = _replace_record(text, "r", 1, "999")
        out["emlearn_bits"] = _replace_record(text, "lf", 1, "8")
    elif name == "exit":
        out["exit_v1"] = _replace_record(text, "emlc-trees", 1, "1")
        out["exit_count"] = _replace_record(text, "P", 1, "9")
        out["exit_arithmetic"] = _replace_record(text, "P", 2, "f")
        out["exit_kind"] = _replace_record(text, "P", 2, "q")
        out["exit_first"] = _replace_record(text, "p", 1, "0")
        out["exit_last"] = _replace_record(text, "p", 1, "4")
        out["exit_order"] = _replace_record(_replace_record(text, "p", 1, "2"), "p", 1, "3")
        out["exit_bound"] = _replace_record(text, "p", 2, "1..5")
        out["exit_inf"] = _replace_record(text, "p", 3, "inf")
        out["exit_nan"] = _replace_record(text, "p", 4, "nan")
        out["exit_fields"] = _replace_record(text, "p", 2, "1,2")
    else:
        out["emlc_nodes"] = _replace_record(text, "N", 1, "999")
        out["emlc_version"] = _replace_record(text, "emlc-trees", 1, "3")
        out["emlc_exit"] = _replace_record(text, "emlc-trees", 1, "2")  # version 2 needs the exit records
        out["emlc_link"] = _replace_record(text, "k", 1, "tanh")
        out["emlc_output"] = _replace_record(text, "t", 2, "5")
        out["emlc_label_hex"] = _replace_record(text, "y", 1, "s6z")
        out["emlc_label_utf8"] = _replace_record(text, "y", 1, "sff")
    return out


def test_damaged_files_raise_with_line_numbers():
    require_micropython()
    files = {"emlc_trees.py": RUNTIME}
    damaged = {}
    for name, text in _models().items():
        files[f"{name}.csv"] = text
        damaged.update(_damaged(name, text))
    files.update({f"{k}.csv": v for k, v in damaged.items()})
    program = "\n".join([
        "import emlc_trees",
        "for name in %r:" % (["emlc", "emlearn", "exit"] + sorted(damaged)),
        "    try:",
        "        emlc_trees.load(name + '.csv')",
        "        print(name, 'LOADED')",
        "    except ValueError as e:",
        "        print(name, 'ValueError', e)",
    ])
    results = dict(line.split(" ", 1) for line in run_micropython(program, files).splitlines())
    assert results.pop("emlc") == "LOADED" and results.pop("emlearn") == "LOADED" and results.pop("exit") == "LOADED"
    assert set(results) == set(damaged)
    for name, message in results.items():
        assert message.startswith("ValueError line "), f"{name}: {message}"
