"""Host JIT: compile an ensemble to machine code and predict numpy batches with it.

The generated ``raw_batch`` entry point loops over rows inside LLVM and returns raw
margins. Rows are prepared into feature-major blocks, so small trees run as branch-free
vector code on 16 rows at once (see :mod:`emlc.backends.llvm.codegen`); a model over
``inline_max_nodes`` nodes is walked from node tables by one small loop instead, which
LLVM compiles in the same time whatever the model (:mod:`emlc.backends.llvm.walk_table`).
The link and the class decision then run through the interpreter's own numpy functions, so
predictions are bit-identical to :func:`emlc.interpret`. A model with an early exit
predicts through ``exit_batch`` instead, which stops each block of rows once every
row's class is decided at a check point, so ``predict`` equals
:func:`emlc.ir.interpret.interpret_early_exit` (``predict_raw``/``predict_proba``
still sum every tree).
ctypes releases the GIL around the call, so ``n_jobs`` threads run row blocks in
parallel; the generated code keeps its state on the stack, so any number of Python
threads may call one predictor at once. Object code is cached on disk under a key made
of the emitted IR (the model) and the :class:`Build` (CPU, versions, options). A
predictor pickles (and saves to a file) as its IR text and object code, see
:mod:`emlc.backends.llvm.predictor_file`.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, replace
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm
import numpy as np

from ...errors import EmlcError
from ...float_traps import traps_off
from ...ir.ensemble import Ensemble
from ...ir.interpret import apply_link, predictions_from_raw, proba_from_raw
from ...ir.text import print_ir
from ...ir.verify import verify
from . import emit as backend
from . import exit_checks
from .codegen import BLOCK_ROWS, INLINE_MAX_NODES, VECTOR_MAX_NODES, choose_types, emit_module, walk_block_rows, walks_tables

_BATCH = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p)
_EXIT_BATCH = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p)


#: LLVM level for table-walk modules, whose code is a few small functions whatever the
#: model: O2 makes the walk 20% (1000x255 model) to 50% (300x63) faster for ~0.1 s.
WALK_OPT = 2


def default_cache_dir() -> Path:
    """``$EMLC_CACHE_DIR``, else ``$XDG_CACHE_HOME/emlc/jit``, else ``~/.cache/emlc/jit``."""
    if os.environ.get("EMLC_CACHE_DIR"):
        return Path(os.environ["EMLC_CACHE_DIR"])
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "emlc" / "jit"


@dataclass(frozen=True)
class Build:
    """What an object file was compiled for and with: object code runs only in a process
    whose build is equal (same CPU and features, same code generator)."""

    emlc: str
    llvmlite: str
    llvm: str
    triple: str
    cpu: str
    features: str
    opt: int
    vector_max_nodes: int
    inline_max_nodes: int

    @classmethod
    def here(cls, opt: int, vector_max_nodes: int, inline_max_nodes: int) -> Build:
        """This process's build with the given code options."""
        from ... import __version__

        host = backend.host_target()
        return cls(__version__, llvmlite.__version__, ".".join(map(str, llvm.llvm_version_info)),
                   host.triple, host.cpu, host.features, opt, vector_max_nodes, inline_max_nodes)

    def differences(self, other: Build) -> list[str]:
        """``"cpu 'znver3' here, 'skylake' in the file"`` for each field that differs
        (for features, the flags that differ)."""
        found = []
        for name, mine, theirs in zip(self.__dataclass_fields__, astuple(self), astuple(other)):
            if name == "features" and mine != theirs:
                here, there = set(mine.split(",")), set(theirs.split(","))
                found.append(f"features {_flags(here - there)} here, {_flags(there - here)} in the file")
            elif mine != theirs:
                found.append(f"{name} {mine!r} here, {theirs!r} in the file")
        return found


def _flags(flags: set[str], shown: int = 4) -> str:
    """A few of ``flags``, sorted, and how many more there are."""
    names = sorted(flags)
    more = f" (+{len(names) - shown} more)" if len(names) > shown else ""
    return "'" + ",".join(names[:shown]) + "'" + more


def cache_key(text: str, build: Build) -> str:
    h = hashlib.sha256()
    for part in (text, *map(str, astuple(build))):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write(path: Path, data: bytes) -> None:
    """Write atomically so concurrent processes never read half an object file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full cache only costs the next process a compile


def _checked_jobs(n_jobs) -> int:
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise EmlcError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    return n_jobs


class Predictor:
    """Compiled model for this machine; ``predict*`` take float32/float64 row batches."""

    def __init__(self, ens: Ensemble, n_jobs: int = 1, cache_dir=None, opt: int = 0,
                 vector_max_nodes: int = VECTOR_MAX_NODES, inline_max_nodes: int = INLINE_MAX_NODES) -> None:
        """``opt`` is LLVM's level; 0 by default because the emitted code is already
        minimal: on the 300-tree LightGBM bench model, O2 costs 2x (vector trees) to 7x
        (branchy trees) the compile time for no gain (vector) or 20% (branchy).
        ``vector_max_nodes``: trees up to this size run as branch-free vector code.
        ``inline_max_nodes``: a model of more nodes is walked from node tables
        (:mod:`emlc.backends.llvm.walk_table`; 0: always), compiled at ``WALK_OPT`` or more."""
        _checked_jobs(n_jobs)
        build = Build.here(opt, vector_max_nodes, inline_max_nodes)
        target = backend.host_target()
        layout = replace(backend.layout_for(target, backend.target_machine(target, jit=True)),
                         feature_stride=BLOCK_ROWS, vector_max_nodes=vector_max_nodes,
                         inline_max_nodes=inline_max_nodes)
        if walks_tables(ens, layout):
            layout = replace(layout, feature_stride=walk_block_rows(ens))
            opt = max(opt, WALK_OPT)
        tm = backend.target_machine(target, jit=True, opt=opt)
        text = emit_module(ens, layout, "emlc_jit")
        folder = None if cache_dir is False else Path(cache_dir or default_cache_dir())
        path = None if folder is None else folder / f"{cache_key(text, build)}.o"
        obj = None if path is None else _read(path)
        self.cache_hit = obj is not None
        if obj is None:
            obj = tm.emit_object(backend.compile_module(text, tm, opt))
            if path is not None:
                _write(path, obj)
        self._link(ens, n_jobs, build, obj, tm)

    @classmethod
    def from_object(cls, ens: Ensemble, n_jobs: int, build: Build, obj: bytes) -> Predictor:
        """A predictor over object code compiled earlier for ``ens`` by an equal ``build``
        (the caller checks both): links it without running LLVM's code generator."""
        self = cls.__new__(cls)
        self.cache_hit = True
        target = backend.host_target()
        self._link(ens, n_jobs, build, obj, backend.target_machine(target, jit=True, opt=build.opt))
        return self

    def _link(self, ens: Ensemble, n_jobs: int, build: Build, obj: bytes, tm: llvm.TargetMachine) -> None:
        self.ensemble = ens
        self.n_jobs = _checked_jobs(n_jobs)
        self.build = build
        self.object_code = obj
        types = choose_types(ens)
        self._raw_dtype = np.float32 if types.raw == "float" else np.float64
        self._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
        self._engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        self._engine.finalize_object()
        self._batch = _BATCH(self._engine.get_function_address("emlc_jit_raw_batch"))
        exits = exit_checks.plan(ens, types) is not None
        self._exit_batch = (_EXIT_BATCH(self._engine.get_function_address("emlc_jit_exit_batch"))
                            if exits else None)

    @functools.cached_property
    def ir_text(self) -> str:
        """The ensemble's IR text, printed once (Dask pickles a task's function per graph)."""
        return print_ir(self.ensemble)

    def __dask_tokenize__(self) -> tuple:
        """Dask names tasks by the model and object code instead of pickling the predictor."""
        return hashlib.sha256(self.ir_text.encode()).hexdigest(), hashlib.sha256(self.object_code).hexdigest(), self.n_jobs

    def __reduce__(self):
        """Pickles as the bytes :meth:`save` writes (IR text, object code, build)."""
        from .predictor_file import dumps, loads

        return loads, (dumps(self),)

    def save(self, path) -> None:
        """Write this predictor to ``path``; :func:`emlc.load_predictor` reads it back."""
        from .predictor_file import save

        save(self, path)

    # ----------------------------------------------------------------- rows
    def _rows(self, X) -> np.ndarray:
        X = np.asarray(X)
        ens = self.ensemble
        if X.ndim == 1 and X.shape[0] == ens.n_features:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != ens.n_features:
            raise EmlcError(
                f"expected rows of {ens.n_features} features, got an array of shape {X.shape}; "
                "pass a 2-D array [n_rows, n_features]"
            )
        return np.ascontiguousarray(X.astype(ens.input_type, copy=False))

    def _run(self, X, exits: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(raw margins, classes decided at check points or -1) from ``raw_batch`` or
        ``exit_batch``, row ranges split between ``n_jobs`` threads."""
        Xc = self._rows(X)
        n = Xc.shape[0]
        out = np.empty((n, self.ensemble.n_outputs), dtype=self._raw_dtype)
        cls = np.full(n, -1, dtype=np.int32)
        if n == 0:
            return out, cls
        jobs = min(self.n_jobs, -(-n // BLOCK_ROWS))
        step = -(-n // jobs)
        step = -(-step // BLOCK_ROWS) * BLOCK_ROWS
        x0, o0, c0 = Xc.ctypes.data, out.ctypes.data, cls.ctypes.data
        xrow, orow = Xc.strides[0], out.strides[0]

        def run(lo: int) -> None:
            count = min(step, n - lo)
            if exits:
                self._exit_batch(x0 + lo * xrow, count, o0 + lo * orow, c0 + lo * 4)
            else:
                self._batch(x0 + lo * xrow, count, o0 + lo * orow)

        starts = range(0, n, step)
        if jobs == 1:
            run(0)
        else:
            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(run, starts))
        return out, cls

    def predict_raw(self, X) -> np.ndarray:
        """Raw margins [n_rows, n_outputs] (before the link), as :func:`emlc.interpret_raw`."""
        return self._run(X)[0]

    def predict_value(self, X) -> np.ndarray:
        """Link outputs [n_rows, n_outputs]: probabilities, values or anomaly scores."""
        return apply_link(self.ensemble, self.predict_raw(X))

    def predict(self, X) -> np.ndarray:
        """What the source library's ``predict`` returns (labels, values or +-1); with an
        early exit, the class decided at the first deciding check point, as
        :func:`emlc.ir.interpret.interpret_early_exit`."""
        ens = self.ensemble
        if self._exit_batch is None:
            return predictions_from_raw(ens, self.predict_raw(X))
        raw, cls = self._run(X, exits=True)
        early = cls.astype(np.int64)
        out = early if ens.classes is None else np.asarray(ens.classes)[np.maximum(early, 0)]
        full = early < 0
        if full.any():
            out[full] = predictions_from_raw(ens, raw[full])
        return out

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities [n_rows, n_classes], as the library's ``predict_proba``."""
        return proba_from_raw(self.ensemble, self.predict_raw(X))


def _as_ensemble(model_or_ir) -> Ensemble:
    if isinstance(model_or_ir, Ensemble):
        ens = model_or_ir
    else:
        from ...frontends.load import load

        ens = load(model_or_ir)
    return verify(ens)


@traps_off
def jit(model_or_ir, n_jobs: int = 1, cache_dir=None, inline_max_nodes: int = INLINE_MAX_NODES) -> Predictor:
    """Compile an :class:`Ensemble` (or anything :func:`emlc.load` accepts) for this CPU.

    ``n_jobs``: threads splitting each ``predict*`` call's rows in shares of whole
    128-row blocks (one call of fewer rows runs on the caller's thread); every
    ``n_jobs`` gives the same bits. The predictor pickles, and ``save(path)`` /
    :func:`emlc.load_predictor` keep it in a file, linked again without compiling.
    ``cache_dir``: ``None`` for the default on-disk cache, a path, or ``False`` to
    compile every time. ``inline_max_nodes``: models of more nodes are walked from node
    tables (compile time flat in model size, fewer rows/s); 0 walks every model.
    """
    return Predictor(_as_ensemble(model_or_ir), n_jobs=n_jobs, cache_dir=cache_dir,
                     inline_max_nodes=inline_max_nodes)
