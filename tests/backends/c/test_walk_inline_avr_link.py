"""Big inline walks link with avr-gcc 5 despite its misjudged branch lengths (walk_inline.length_pad)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from emlc.backends.c import emit_c
from tests.conftest import require_tool


def _forest(n_trees: int, depth: int, seed: int):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    return emlc.load(RandomForestClassifier(n_estimators=n_trees, max_depth=depth, random_state=seed).fit(X, y))


def test_only_avr_gcc_targets_pad_their_leaves():
    """Every leaf of an AVR walk carries the pad at its own indent; other targets and tables do not."""
    ens = _forest(2, 3, 0)
    avr = emit_c(ens, "avr", "m", "inline")
    leaves = re.findall(r"^( *)row = \d+;\n( *)M_LEN_PAD;$", avr, re.MULTILINE)
    assert "#define M_LEN_PAD __asm__" in avr and len(leaves) == len(re.findall(r"row = \d+;", avr)) > 0
    assert all(a == b for a, b in leaves)
    for target in ("host", "cortex-m0"):
        assert "LEN_PAD" not in emit_c(ens, target, "m", "inline")
    assert "LEN_PAD" not in emit_c(ens, "avr", "m", "table")


def test_a_100_kb_avr_walk_links_only_with_the_leaf_pads():
    """This 20-tree forest's walk (about 100 KB) fails to link without the pads: avr-gcc 5
    prints forward branches of exactly 64 words as two words after counting one, and an
    rjmp it sized within reach ends up 4,098 bytes away (R_AVR_13_PCREL)."""
    require_tool("avr-gcc")
    header = emit_c(_forest(20, 6, 1), "avr", "m", "inline")
    main = header + "\nint main(void)\n{\n    static float x[64];\n    return (int)m_predict(x, 64);\n}\n"
    bare = re.sub(r"\n *M_LEN_PAD;", "", main)
    assert bare != main
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for name, src in (("pad", main), ("bare", bare)):
            (Path(tmp) / f"{name}.c").write_text(src)
            runs.append(subprocess.Popen(
                ["avr-gcc", "-mmcu=atmega2560", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Os",
                 f"{name}.c", "-o", f"{name}.elf"], cwd=tmp, stderr=subprocess.PIPE, text=True))
        (pad_err, bare_err) = [p.communicate()[1] for p in runs]
        assert runs[0].returncode == 0, pad_err
        assert runs[1].returncode != 0 and "R_AVR_13_PCREL" in bare_err, "the control links now: pick another model"
