"""Lossy never costs bytes (issue #16): at every -O level, on AVR and the host, each lossy
leaf option builds no bigger than the exact build of the same level.

Sizes are the C backend's flash estimate of the build the level emits (the number lossy
reports and the budget search compare); the headline case, digits 10x8 at -Os with two
leaves per class, is also linked with avr-gcc.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from emlc.backends.c.emit import size_report
from emlc.passes import optimize
from emlc.passes.lossy.apply import LossySettings, compress_leaves
from tests.conftest import require_tool

OPTIONS = (
    LossySettings(leaves_per_class=2),
    LossySettings(leaves_per_class=8),
    LossySettings(leaf_clusters=16),
    LossySettings(leaf_bits=8),
    LossySettings(leaf_bits=4),
    LossySettings(hard_vote=True),
)


@pytest.fixture(scope="module")
def digits_models():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    from emlc.frontends.sklearn import from_sklearn

    X, y = load_digits(return_X_y=True)
    fitted = {
        "forest 10x6": RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0),
        "forest 10x8": RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0),
        "boosting 10x3": GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0),
    }
    return {name: (from_sklearn(m.fit(X[:900], y[:900])), m, X[900:1300]) for name, m in fitted.items()}


def flash(ens, target: str, layout, level: str) -> int:
    """The flash estimate of the header ``level`` emits (exact builds: the layout and walk
    the backend picks; lossy ones: the layout they were measured in)."""
    return int(size_report(ens, target, layout, speed=level != "Os")["flash_bytes_estimate"])


@pytest.mark.parametrize("level", ["O0", "O2", "Os"])
@pytest.mark.parametrize("target", ["avr", "host"])
@pytest.mark.parametrize("model", ["forest 10x6", "forest 10x8", "boosting 10x3"])
def test_every_lossy_option_is_no_bigger_than_exact(digits_models, model, target, level):
    ens, _, X = digits_models[model]
    exact = optimize(ens, level=level, target=target)
    limit = flash(exact.ensemble, target, None, level)
    sizes = {}
    for s in OPTIONS:
        if s.hard_vote and model.startswith("boosting"):
            continue  # a vote needs a forest
        built, layout = compress_leaves(ens, s, X=X, level=level, target=target)
        sizes[s.label()] = flash(built, target, layout, level)
    assert max(sizes.values()) <= limit, (limit, sizes)


def _avr_flash(header: str, tmp: Path) -> tuple[int, str]:
    """text+data of an ATmega2560 program calling predict, and its symbol table."""
    (tmp / "m.c").write_text(header + "\nvolatile float in[64];\nvolatile int32_t out;\n"
                             "int main(void) {\n    float x[64];\n    int i;\n"
                             "    for (i = 0; i < 64; i++) {\n        x[i] = in[i];\n    }\n"
                             "    out = model_predict(x, 64);\n    return 0;\n}\n")
    subprocess.run(["avr-gcc", "-mmcu=atmega2560", "-Os", "-std=c99", "m.c", "-o", "m.elf"], cwd=tmp, check=True)
    sizes = subprocess.run(["avr-size", "-A", "m.elf"], cwd=tmp, check=True, capture_output=True, text=True).stdout
    symbols = subprocess.run(["avr-nm", "m.elf"], cwd=tmp, check=True, capture_output=True, text=True).stdout
    return sum(int(m.group(2)) for m in re.finditer(r"^\.(text|data)\s+(\d+)", sizes, re.M)), symbols


def test_two_leaves_per_class_links_smaller_on_avr(digits_models, tmp_path):
    """The headline, linked: digits 10x8 at -Os, 2 leaves per class against exact. predict of
    the clustered build is decided by integer sums alone: neither the exact build's binary64
    step nor soft-float division is linked (the exact -Os build has no float sums in predict
    either: Plan.soft_after_fixed)."""
    require_tool("avr-gcc", "avr-size", "avr-nm")
    import emlc
    from emlc.api import Lossy

    _, model, X = digits_models["forest 10x8"]
    exact = emlc.compile(model, target="avr", level="Os")
    two = emlc.compile(model, target="avr", level="Os", lossy=Lossy(LossySettings(leaves_per_class=2)),
                       calibration=(X, None))
    (tmp_path / "exact").mkdir()
    (tmp_path / "two").mkdir()
    exact_bytes, exact_symbols = _avr_flash(exact.code, tmp_path / "exact")
    two_bytes, two_symbols = _avr_flash(two.code, tmp_path / "two")
    assert two_bytes < exact_bytes, (two_bytes, exact_bytes)
    assert "_f64_quot" in exact_symbols and "_f64_quot" not in two_symbols
    assert "__divsf3" not in exact_symbols and "__divsf3" not in two_symbols
    assert two.lossy.after.bytes < two.lossy.before.bytes
    assert two.lossy.after.agreement >= 0.97
