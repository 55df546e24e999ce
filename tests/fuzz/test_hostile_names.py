"""Feature names, class labels and model names that try to break out of the generated code.

Each payload ends a C comment, a C/Python string or a line, or smuggles in a
directive; an unescaped copy anywhere makes the C fail to compile under -Werror
(``#error``, ``-Wcomment``, ``-Wtrigraphs``), makes the Python module raise on
import, breaks the LLVM IR parse, or changes the labels a model returns. So the
test is: everything still compiles, parses and predicts exactly what the IR does.
"""

from __future__ import annotations

import io
import json
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import emlc
from emlc.ir import Ensemble, interpret
from emlc.ir.text import parse_ir, print_ir
from tests.conftest import require_tool
from tests.fuzz import corpus

HOSTILE = (
    "a*/\n#error PWNED_C\n/*b",
    'q"\n#error PWNED_Q\n"',
    "x\\\n#error PWNED_SPLICE",
    "t??/\n#error PWNED_TRIGRAPH",
    "#include </etc/passwd>",
    "'''\nraise SystemExit('PWNED_PY')\n'''",
    '"""\nraise SystemExit("PWNED_PY2")\n"""',
    "\\u0000 \x00 nul \r\n carriage",
    "}; int pwned = 1; /*",
    "; PWNED_LLVM\n define void @pwn() {\n ret void }",
    "Ünïcødé ✓ 名前 \U0001F600",
    "L" * 100_000,
)


@lru_cache(maxsize=None)
def hostile_model() -> Ensemble:
    """The 3-class XGBoost seed with hostile feature names, class labels and model name."""
    doc = json.loads(corpus.xgboost_files()["xgb_softprob.json"])
    doc["learner"]["feature_names"] = list(HOSTILE[:3])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.json"
        path.write_text(json.dumps(doc))
        ens = emlc.load(path)
    assert ens.feature_names == HOSTILE[:3]
    labels = np.array([HOSTILE[3], HOSTILE[5], HOSTILE[6]], dtype=object)
    return ens.replace(classes=labels, name="".join(HOSTILE[3:]))


def rows() -> np.ndarray:
    rng = np.random.default_rng(5)
    X = rng.normal(0, 2, size=(40, 3)).astype(np.float32)
    X[::6, 1] = np.nan
    return X


def test_ir_text_round_trip():
    ens = hostile_model()
    assert parse_ir(print_ir(ens)).same_as(ens)


@pytest.mark.parametrize("layout", ["inline", "table"])
def test_c_compiles_strictly_and_predicts(layout):
    require_tool("gcc")
    from emlc.backends.c import emit_c
    from tests.e2e.harness import run_model

    ens = hostile_model()
    code = emit_c(ens, "host", "m", layout)
    assert "PWNED" not in code.split("*/", 1)[1], "a payload escaped the header comment"
    got = run_model(ens, rows(), "host", layout=layout, name="m")
    np.testing.assert_array_equal(got.predict, _indices(ens))


def _indices(ens: Ensemble) -> np.ndarray:
    labels = list(ens.classes)
    return np.array([labels.index(v) for v in interpret(ens, rows())])


def test_micropython_module_imports_and_returns_the_labels():
    from emlc.backends.micropython import emit_micropython

    ens = hostile_model()
    namespace: dict = {}
    exec(compile(emit_micropython(ens, name="m"), "m.py", "exec"), namespace)
    got = [namespace["predict"]([float(v) for v in r]) for r in rows()]
    assert got == list(interpret(ens, rows()))


def test_runtime_csv_keeps_string_labels_inert_and_returns_them():
    from emlc.backends.micropython.emlc_csv import emit_emlc_csv
    from tests.fuzz.runtime import emlc_trees

    ens = hostile_model()
    text = emit_emlc_csv(ens)
    assert "PWNED" not in text
    model = emlc_trees().load(io.StringIO(text))
    assert [model.predict([float(v) for v in r]) for r in rows()] == list(interpret(ens, rows()))


def test_llvm_ir_parses_and_verifies():
    import llvmlite.binding as llvm

    from emlc.backends.llvm import emit_llvm

    text = emit_llvm(hostile_model(), name="m")
    assert "PWNED" not in text and "@pwn" not in text
    llvm.parse_assembly(text).verify()


@pytest.mark.parametrize("bad", ["x*/", "a\nb", "m; drop", "\u00e9t\u00e9", "a" * 300 + "-"])
def test_hostile_api_names_are_refused_or_kept_inert(bad):
    from emlc.backends.c import emit_c
    from emlc.backends.llvm import emit_llvm
    from emlc.backends.micropython import emit_micropython
    from emlc.errors import EmlcError

    ens = hostile_model()
    for emit in (lambda: emit_c(ens, "host", bad), lambda: emit_llvm(ens, name=bad)):
        with pytest.raises(EmlcError, match="name"):
            emit()
    namespace: dict = {}  # the module's API names are fixed; the name only appears as a repr
    exec(compile(emit_micropython(ens, name=bad), "m.py", "exec"), namespace)
    assert namespace["predict"]([0.0, 0.0, 0.0]) in list(ens.classes)
