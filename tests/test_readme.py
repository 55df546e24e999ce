"""README's two opening commands stay true: the main job runs, CI runs the same tests."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
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
    assert r.stderr.rstrip().splitlines()[-1] == f"wrote {out.name} (a {out.stat().st_size}-byte file)"


def _quick_start() -> tuple[str, str]:
    """The Quick start's Python script and its emlc command."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    script = re.search(r"```python\n(.+?)```", section, re.S).group(1)
    command = re.search(r"```sh\n(.+?)\n```", section, re.S).group(1)
    return script, command


def _extra_requirements(extras: list[str]) -> set[str]:
    """Distribution names the extras install (following emlc[...] references)."""
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names: set[str] = set()
    for extra in extras:
        for req in optional[extra]:
            if req.startswith("emlc["):
                names |= _extra_requirements(req[5:req.index("]")].split(","))
            else:
                names.add(re.split(r"[<>=\[; ]", req)[0].lower())
    return names


def test_first_command_installs_what_the_quick_start_imports():
    install = _opening_commands()[0].split(" && ", 1)[0]
    extras = re.search(r"\.\[([a-z,]+)\]", install).group(1).split(",")
    installed = _extra_requirements(extras)
    distributions = packages_distributions()
    script, _ = _quick_start()
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name).split(".")[0]
        for node in ast.walk(ast.parse(script)) if isinstance(node, (ast.Import, ast.ImportFrom))
    }
    assert imported == {"sklearn", "skops"}
    for module in imported:
        assert {d.lower() for d in distributions[module]} & installed, f"{module} is not installed by {install}"


def test_quick_start_runs(tmp_path):
    script, command = _quick_start()
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    args = shlex.split(command)
    assert args[0] == "emlc"
    r = subprocess.run([sys.executable, "-m", "emlc.cli", *args[1:]], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "int32_t iris_predict(const float *features" in (tmp_path / "iris_model.h").read_text()


def test_ci_runs_the_readme_test_command():
    second = _opening_commands()[1]
    install, tests = second.split(" && ", 1)
    ci = (ROOT / ".ci" / "run").read_text()
    assert install.strip() == "bash .ci/install" and "bash .ci/install" in ci
    assert ci.rstrip().splitlines()[-1].strip() == tests.strip()
