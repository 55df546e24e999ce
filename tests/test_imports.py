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


def test_sklearn_frontends_import_each_other_at_the_top():
    """sklearn and sklearn_hist share sklearn_common, so neither hides an import in a function."""
    import ast
    from pathlib import Path

    import emlc.frontends as fe

    for name in ("sklearn.py", "sklearn_hist.py", "sklearn_common.py"):
        tree = ast.parse((Path(fe.__file__).parent / name).read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef):
                local = [n.module for n in ast.walk(fn) if isinstance(n, ast.ImportFrom) and n.level > 0]
                assert not local, f"{name}:{fn.name} imports {local} inside the function"
