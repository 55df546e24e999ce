"""Lossy compression trade-offs: agreement with scikit-learn and AVR flash per setting.

For digits, wine and breast cancer (RandomForest 10 trees, depth 8) prints, per
setting, agreement with scikit-learn's ``predict`` on held-out rows, flash bytes at
-Os and -O2 (``avr-size`` text+data of the model built into a minimal ATmega2560
program calling ``predict`` when avr-gcc is installed), the C backend's estimate at
-Os, and mean trees evaluated with the confidence early exit; emlearn's default (hard vote, int16 features) is shown
side by side when the ``emlearn`` package is installed, its agreement from its own
Python-side ``predict``. Run: ``python bench/bench_lossy.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emlc.backends.c import emit_c, flash_estimate  # noqa: E402
from emlc.frontends.sklearn import from_sklearn  # noqa: E402
from emlc.ir.interpret import interpret_trees_evaluated  # noqa: E402
from emlc.passes.lossy.apply import LossySettings, add_exit, compress_leaves, predict  # noqa: E402

SETTINGS = [
    LossySettings(),
    LossySettings(hard_vote=True),
    LossySettings(leaf_bits=8),
    *[LossySettings(leaves_per_class=n) for n in (8, 4, 2, 1)],
    LossySettings(leaves_per_class=2, leaf_bits=8),
]
EXITS = (1.0, 0.5, 0.3)
#: -Os: the build a size-conscious AVR user picks (table layout when it is smaller); -O2: the fast one
LEVELS = ("Os", "O2")
AVR_MAIN = """
#include <stdint.h>
#include "model.h"
volatile float in[%d];
volatile int32_t out;
int main(void) { float x[%d]; int i; for (i = 0; i < %d; i++) x[i] = in[i]; out = model_predict(x, %d); return 0; }
"""
EMLEARN_MAIN = """
#include <stdint.h>
#include "em.h"
volatile int16_t in[%d];
volatile int32_t out;
int main(void) { int16_t x[%d]; int i; for (i = 0; i < %d; i++) x[i] = in[i]; out = em_predict(x, %d); return 0; }
"""


def avr_bytes(header: str, main: str, includes: tuple[str, ...] = ()) -> int | None:
    """text+data of a minimal ATmega2560 program around a model header (None without avr-gcc)."""
    if shutil.which("avr-gcc") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        name = "em.h" if "em_predict" in main else "model.h"
        (work / name).write_text(header)
        (work / "main.c").write_text(main)
        cmd = ["avr-gcc", "-mmcu=atmega2560", "-Os", "-std=gnu99", *[f"-I{i}" for i in includes], "main.c", "-o", "fw.elf"]
        if subprocess.run(cmd, cwd=work, capture_output=True).returncode:
            return None
        size = subprocess.run(["avr-size", "fw.elf"], cwd=work, capture_output=True, text=True).stdout.splitlines()[1].split()
        return int(size[0]) + int(size[1])


def emlearn_row(model, Xh, reference) -> tuple[str, int | None, float] | None:
    try:
        import emlearn
    except ImportError:
        return None
    conv = emlearn.convert(model, method="loadable")
    agree = float(np.mean(conv.predict(Xh.astype(np.int16)) == reference))
    code = conv.save(name="em", format="c")
    n = Xh.shape[1]
    return "emlearn default (hard vote)", avr_bytes(code, EMLEARN_MAIN % (n, n, n, n), (emlearn.includedir,)), agree


def bench(name: str, loader) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = loader(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(y))
    a, b = len(y) // 2, 3 * len(y) // 4
    model = RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0).fit(X[idx[:a]], y[idx[:a]])
    Xc, Xh = X[idx[a:b]], X[idx[b:]]
    reference = model.predict(Xh)
    ens = from_sklearn(model)
    n = ens.n_features
    print(f"\n{name}: {ens.n_trees} trees, {ens.n_leaves} leaves, {len(Xh)} held-out rows")
    print(f"{'setting':<28}{'agreement':>10}" + "".join(f"{'AVR -' + lv:>11}" for lv in LEVELS)
          + f"{'est -Os':>10}" + "".join(f"{'trees@' + format(t, 'g'):>10}" for t in EXITS))
    for s in SETTINGS:
        builds = {level: compress_leaves(ens, s, X=Xc, level=level, target="avr") for level in LEVELS}
        flash = [avr_bytes(emit_c(built, "avr", "model", layout, speed=level != "Os"), AVR_MAIN % (n, n, n, n))
                 for level, (built, layout) in builds.items()]
        small, small_layout = builds["Os"]
        est = flash_estimate(small, "avr", small_layout)
        agree = float(np.mean(predict(small, Xh) == reference))
        trees = []
        for t in EXITS:
            try:
                trees.append(f"{interpret_trees_evaluated(add_exit(small, LossySettings(early_exit=t), Xc)[0], Xh).mean():.2f}")
            except Exception as e:  # noqa: BLE001 - a setting the exit does not support is shown as '-'
                trees.append("-" if "EmlcError" in type(e).__name__ else f"err:{type(e).__name__}")
        print(f"{s.label():<28}{100 * agree:>9.2f}%" + "".join(f"{f if f is not None else '-':>11}" for f in flash)
              + f"{est:>10}" + "".join(f"{v:>10}" for v in trees))
    row = emlearn_row(model, Xh, reference)
    if row is not None:
        label, flash, agree = row
        print(f"{label:<28}{100 * agree:>9.2f}%{flash if flash is not None else '-':>11}")


def main() -> None:
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    for name, loader in (("digits", load_digits), ("wine", load_wine), ("breast cancer", load_breast_cancer)):
        bench(name, loader)


if __name__ == "__main__":
    main()
