"""The Arduino Uno's ATmega328P (32 KB flash, 2 KB RAM) in simavr: the scikit-learn digits
forest of the AVR benchmark (bench/bench_avr_digits.py), built at -O2 and -Os for this
target, predicts every test row exactly as scikit-learn does, and fits the board."""

from __future__ import annotations

import numpy as np
import pytest

import emlc
from emlc.backends.c import emit_c, size_report
from emlc.passes import optimize
from emlc.targets import get_target
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, run_model


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    clf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(Xtr, ytr)
    return clf, Xte.astype(np.float32)


@pytest.mark.parametrize("level", ["O2", "Os"])
def test_digits_fits_the_328p(digits, level):
    clf, _ = digits
    res = optimize(emlc.load(clf), level=level, target="atmega328p")
    tgt = get_target("atmega328p")
    rep = size_report(res.ensemble, tgt, res.layout, speed=level != "Os")
    assert rep["flash_bytes_estimate"] <= tgt.flash_bytes
    assert rep["ram_bytes_model_data"] == 0 and rep["ram_bytes_stack_estimate"] <= tgt.ram_bytes
    # tables in flash: no model data in RAM (PROGMEM for every table)
    code = emit_c(res.ensemble, tgt, "model", res.layout, speed=level != "Os")
    assert "PROGMEM" in code and "static const" in code
    assert all(" PROGMEM" in line for line in code.splitlines() if line.startswith("static const") and "[" in line)


@pytest.mark.parametrize("level", ["O2", "Os"])
def test_digits_model_takes_no_ram_on_the_328p(digits, level, tmp_path):
    """avr-size of the compiled header (with a caller): no .data or .bss, flash under 32 KB."""
    require_tool("avr-gcc", "avr-size")
    import subprocess

    clf, _ = digits
    res = optimize(emlc.load(clf), level=level, target="atmega328p")
    tgt = get_target("atmega328p")
    code = emit_c(res.ensemble, tgt, "model", res.layout, speed=level != "Os")
    (tmp_path / "m.c").write_text(code + "\nint32_t call(const float *x);\n"
                                  "int32_t call(const float *x) { return model_predict(x, 64); }\n")
    subprocess.run([tgt.compiler, *tgt.cflags, "-c", "m.c", "-o", "m.o"], cwd=tmp_path, check=True)
    out = subprocess.run(["avr-size", "m.o"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    text, data, bss = (int(v) for v in out.splitlines()[1].split()[:3])
    assert data == 0 and bss == 0
    assert text < tgt.flash_bytes


def test_digits_on_the_328p_agrees_with_sklearn(digits):
    require_tool(*TOOLS["avr"])
    clf, X = digits
    ens = emlc.load(clf)
    want = clf.predict(X)
    for level in ("O2", "Os"):
        res = optimize(ens, level=level, target="atmega328p")
        got = run_model(res.ensemble, X, "atmega328p", res.layout, speed=level != "Os")
        np.testing.assert_array_equal(np.asarray(res.ensemble.classes)[got.predict], want, err_msg=level)
