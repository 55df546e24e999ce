"""The MicroPython tree runtime imported under CPython (it only needs ``array`` and ``math``)."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from types import ModuleType

from emlc.paths import runtime_dir


@lru_cache(maxsize=None)
def emlc_trees() -> ModuleType:
    path = runtime_dir() / "micropython" / "emlc_trees.py"
    spec = importlib.util.spec_from_file_location("emlc_trees_cpython", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
