"""Every example in examples/ is built and run as its README comment says."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CORE = Path(__file__).with_name("arduino_core")
FLOWERS = np.array([[5.1, 3.5, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5], [6.3, 3.3, 6.0, 2.5]], dtype=np.float32)


def emlc(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "emlc.cli", *args], cwd=cwd, check=True)


@pytest.fixture(scope="module")
def expected() -> list[str]:
    """What XGBoost itself predicts for the three flowers the examples classify."""
    from xgboost import XGBClassifier

    model = XGBClassifier()
    model.load_model(EXAMPLES / "models" / "iris_xgb.json")
    return [f"flower {i}: class {c}" for i, c in enumerate(model.predict(FLOWERS))]


def classes(output: str) -> list[str]:
    return re.findall(r"flower \d+: class -?\d+", output)


def test_cortex_m0_bare_metal_example(tmp_path, expected):
    require_tool("arm-none-eabi-gcc", "qemu-system-arm", "make")
    work = tmp_path / "examples"
    shutil.copytree(EXAMPLES / "cortex-m0", work / "cortex-m0")
    shutil.copytree(EXAMPLES / "models", work / "models")
    env_path = Path(sys.executable).parent
    run = subprocess.run(
        ["make", "-s", "run"], cwd=work / "cortex-m0", capture_output=True, text=True, timeout=300,
        env={"PATH": f"{env_path}:/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert classes(run.stdout + run.stderr) == expected


def test_arduino_sketch_example(tmp_path, expected):
    """The sketch built as the Arduino IDE does (C++11, avr-g++) over a UART core shim."""
    require_tool("avr-g++", "simavr")
    emlc(str(EXAMPLES / "models" / "iris_xgb.json"), "-O2", "--target", "avr", "--name", "iris",
         "-o", str(tmp_path / "iris_model.h"), cwd=tmp_path)
    sketch = tmp_path / "sketch.cpp"
    sketch.write_text("#include <Arduino.h>\n" + (EXAMPLES / "arduino" / "iris" / "iris.ino").read_text())
    subprocess.run(
        ["avr-g++", "-std=gnu++11", "-mmcu=atmega2560", "-Os", "-Wall", "-Wextra", "-Werror",
         f"-I{CORE}", f"-I{tmp_path}", str(sketch), str(CORE / "main.cpp"), "-o", "fw.elf"],
        cwd=tmp_path, check=True,
    )
    run = subprocess.run(["simavr", "-m", "atmega2560", "-f", "16000000", "fw.elf"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert classes(run.stdout + run.stderr) == expected


def test_micropython_example(tmp_path, expected):
    from tests.e2e.mpy import require_micropython, run_micropython

    require_micropython()
    emlc(str(EXAMPLES / "models" / "iris_xgb.json"), "-O2", "--emit", "csv", "-o", "iris.csv", cwd=tmp_path)
    files = {
        "iris.csv": (tmp_path / "iris.csv").read_text(),
        "emlc_trees.py": (ROOT / "runtime" / "micropython" / "emlc_trees.py").read_text(),
        "iris.py": (EXAMPLES / "micropython" / "iris.py").read_text(),
    }
    out = run_micropython("import iris\n", files)
    assert classes(out) == expected
