"""``import emlc`` and the -O2 + C pipeline load no library they do not use.

Heavy packages (the model libraries, lark, llvmlite) cost tens to hundreds of
milliseconds to import; a compile of a loaded model must not pay for them.
"""

import subprocess
import sys

HEAVY = ("lark", "llvmlite", "sklearn", "xgboost", "lightgbm", "onnx", "scipy")


def test_pipeline_imports_no_heavy_package():
    code = (
        "import sys, emlc\n"
        "from emlc.passes import optimize\n"
        "from emlc.backends.c import emit_c\n"
        "print(' '.join(m for m in " + repr(HEAVY) + " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


def test_parse_ir_still_loads_lark():
    code = (
        "import sys, emlc\n"
        "assert 'lark' not in sys.modules\n"
        "try:\n"
        "    emlc.parse_ir('not ir')\n"
        "except emlc.IRError:\n"
        "    pass\n"
        "print('lark' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


TRAINING = ("sklearn", "xgboost", "lightgbm")


def _onnx_file(path) -> None:
    """A one-split TreeEnsembleRegressor, built with onnx.helper (no training library)."""
    from onnx import TensorProto, helper, save

    node = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
        nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[1, 0, 0],
        nodes_values=[0.5, 0.0, 0.0], nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"],
        nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 0, 0],
        target_treeids=[0, 0], target_nodeids=[1, 2], target_ids=[0, 0], target_weights=[-1.0, 2.0],
        n_targets=1, post_transform="NONE", aggregate_function="SUM",
    )
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    save(model, str(path))


def test_file_loaders_import_no_training_library(tmp_path):
    """Every model file a core install reads loads, compiles and emits C without
    scikit-learn, XGBoost or LightGBM (each in a fresh interpreter)."""
    from tests.fuzz.corpus import ir_texts, lightgbm_files, xgboost_files

    seeds = {**xgboost_files(), **lightgbm_files()}
    files = {
        "xgb.json": seeds["xgb_softprob.json"],
        "xgb.ubj": seeds["xgb_softprob.ubj"],
        "lgb.txt": seeds["lgb_binary.txt"],
        "lgb_dump.json": seeds["lgb_multi.json"],
        "model.emlir": ir_texts()["xgb_binary_json.emlir"],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    _onnx_file(tmp_path / "model.onnx")
    for name in [*files, "model.onnx"]:
        code = (
            "import sys, emlc\n"
            f"emlc.compile({str(tmp_path / name)!r}, target='avr')\n"
            "print(' '.join(m for m in " + repr(TRAINING) + " if m in sys.modules))\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [], f"loading {name} imported {out.stdout.strip()}"
