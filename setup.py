"""Ships the top-level ``runtime/`` (C and MicroPython sources the generated code uses) inside
the wheel as ``emlc/runtime``, where :func:`emlc.paths.runtime_dir` finds it outside a checkout.
Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithRuntime(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "emlc" / "runtime"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(Path(__file__).parent / "runtime", target,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithRuntime})
