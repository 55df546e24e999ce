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
