"""An installed emlc (not a checkout) carries what the generated code needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_build_ships_the_runtime_sources_and_grammar(tmp_path):
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sources = {p.relative_to(ROOT / "runtime") for p in (ROOT / "runtime").rglob("*.[cp]*") if p.suffix in (".c", ".py")}
    shipped = tmp_path / "emlc" / "runtime"
    assert sources and all((shipped / s).is_file() for s in sources)
    assert (tmp_path / "emlc" / "ir" / "text.lark").is_file()
