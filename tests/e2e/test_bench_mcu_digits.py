"""bench/bench_mcu_digits.py runs as the README says and its emlc rows are exact; the
harness's relaxed build (other libraries' C and C++) that its peers go through works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, build, execute

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_mcu_digits.py"


def test_bench_prints_exact_emlc_builds_on_rv32ec():
    """The 10x6 forest on the CH32V003: every emlc build agrees with scikit-learn and the
    interpreter on all 30 rows, with positive model-only flash and instruction counts."""
    require_tool(*TOOLS["rv32ec"], "riscv64-unknown-elf-size")
    out = subprocess.run([sys.executable, str(BENCH), "10x6", "rv32ec", "--no-peers"], capture_output=True,
                         text=True, timeout=600, check=True).stdout
    assert "## digits RandomForest 10x6, rv32ec" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("emlc ")]
    assert len(rows) == 4, out
    for ln in rows:
        m = re.search(r"\s(\d+)\s+(\d+)\s+(yes|NO)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)%$", ln)
        assert m, ln
        flash, _, fits, instr, agree, ir = m.groups()
        assert int(flash) > 0 and int(instr) > 0 and fits == "yes"
        assert agree == ir == "100.0", ln


def test_relaxed_build_takes_cxx_code_the_strict_flags_refuse(tmp_path):
    """``strict=False, cxx=True`` compiles C++ with an unused parameter (an error under the
    strict flags) and runs it on the Cortex-M0."""
    require_tool(*TOOLS["cortex-m0"])
    src = ('extern "C" { void out_char(char c); void out_done(void); void run_all(void); }\n'
           "struct Port { int predict(const float *x, int n) { return x[0] > 1.5f ? 7 : 3; } };\n"
           "static Port port;\n"
           'void run_all(void) { static const float x[1] = {2.0f}; out_char((char)(48 + port.predict(x, 1)));'
           " out_char('\\n'); out_done(); }\n")
    exe = build("cortex-m0", src, tmp_path, strict=False, cxx=True)
    assert execute("cortex-m0", exe).strip() == "7"
    try:
        build("cortex-m0", src, tmp_path, cxx=True)
    except RuntimeError as e:
        assert "unused parameter" in str(e)
    else:
        raise AssertionError("the strict flags took an unused parameter")
