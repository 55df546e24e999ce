"""README's two opening commands stay true: the main job runs, CI runs the same tests."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _opening_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)[:2]


def test_first_command_compiles_the_bundled_example(tmp_path):
    first = _opening_commands()[0]
    install, job = first.split(" && ", 1)
    assert install.startswith("pip install")
    args = shlex.split(job)
    assert args[0] == "emlc"
    args = [str(ROOT / a) if (ROOT / a).exists() else a for a in args[1:]]
    r = subprocess.run([sys.executable, "-m", "emlc.cli", *args], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = tmp_path / args[args.index("-o") + 1]
    assert "_predict(const float *features, int32_t n_features)" in out.read_text()
    assert "flash" in r.stderr  # the --report table


def test_ci_runs_the_readme_test_command():
    second = _opening_commands()[1]
    install, tests = second.split(" && ", 1)
    ci = (ROOT / ".ci" / "run").read_text()
    assert install.strip() == "bash .ci/install" and "bash .ci/install" in ci
    assert ci.rstrip().splitlines()[-1].strip() == tests.strip()
