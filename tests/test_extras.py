"""A core install holds no training library, and a missing one is a one-line error naming its extra."""

from __future__ import annotations

import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return requirement.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip()


def test_core_dependencies_are_the_light_set():
    assert sorted(_name(r) for r in PROJECT["dependencies"]) == ["lark", "llvmlite", "numpy"]


def test_each_training_library_has_its_extra_and_all_gathers_them():
    extras = PROJECT["optional-dependencies"]
    for extra, package in [("sklearn", "scikit-learn"), ("xgboost", "xgboost"), ("lightgbm", "lightgbm"),
                           ("onnx", "onnx"), ("skops", "skops")]:
        assert package in {_name(r) for r in extras[extra]}, extra
    assert extras["all"] == ["emlc[sklearn,xgboost,lightgbm,onnx,skops,plot]"]
    assert "emlc[all]" in extras["test"]


def _without(libraries: tuple[str, ...], code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where importing any of ``libraries`` fails."""
    block = "".join(f"sys.modules[{lib!r}] = None\n" for lib in libraries)
    return subprocess.run([sys.executable, "-c", "import sys\n" + block + code], capture_output=True, text=True)


def _cli_error(libraries: tuple[str, ...], *args: str) -> str:
    r = _without(libraries, f"from emlc.cli import main\nsys.exit(main({list(args)!r}))")
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emlc: error: "), r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def forest_files(tmp_path_factory):
    import skops.io
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    d = tmp_path_factory.mktemp("models")
    X, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y)
    (d / "rf.pkl").write_bytes(pickle.dumps(model))
    skops.io.dump(model, d / "rf.skops")
    return d


def test_pickle_without_its_library_names_the_extra(forest_files):
    line = _cli_error(("sklearn", "joblib"), str(forest_files / "rf.pkl"), "--trust-pickle", "-o", "-")
    assert "needs sklearn, which is not installed; pip install 'emlc[sklearn]'" in line


def test_skops_without_skops_names_the_extra(forest_files):
    line = _cli_error(("skops",), str(forest_files / "rf.skops"), "-o", "-")
    assert "loading .skops files needs skops, which is not installed; pip install 'emlc[skops]'" in line


def test_onnx_without_onnx_names_the_extra(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
    line = _cli_error(("onnx",), str(tmp_path / "m.onnx"), "-o", "-")
    assert "reading ONNX models (a protobuf format) needs onnx, which is not installed; pip install 'emlc[onnx]'" in line


def test_leaf_clustering_without_sklearn_names_the_extra():
    r = _without(("sklearn",), (
        "import emlc\n"
        "from emlc.passes.lossy.cluster_leaves import cluster_leaves\n"
        f"ens = emlc.load({str(ROOT / 'examples/models/iris_xgb.json')!r})\n"
        "try:\n"
        "    cluster_leaves(ens, 2)\n"
        "except emlc.EmlcError as e:\n"
        "    print(e)\n"
    ))
    assert "needs sklearn, which is not installed; pip install 'emlc[sklearn]'" in r.stdout, r.stderr


def test_a_pickle_of_another_library_names_the_module(tmp_path):
    (tmp_path / "m.pkl").write_bytes(b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x0bnot_a_lib.x\x94\x8c\x01C\x94\x93\x94.")
    line = _cli_error((), str(tmp_path / "m.pkl"), "--trust-pickle", "-o", "-")
    assert line.endswith("unpickling '%s' needs the module 'not_a_lib', which is not installed" % (tmp_path / "m.pkl"))
