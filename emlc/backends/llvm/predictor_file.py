"""A JIT predictor as bytes: what ``pickle`` and ``Predictor.save`` carry between processes.

Layout: the line ``emlc-jit``, one line of JSON (format version, :class:`Build`,
``n_jobs``, and the size and SHA-256 of each part), then the model's IR text
(:func:`emlc.ir.text.print_ir`) and the object code. Loading links the object code as
it is, without running LLVM's code generator, when the build it was compiled by equals
this process's (CPU name and features, emlc, llvmlite and LLVM versions); otherwise it
recompiles the IR with a warning naming what differs. Damaged bytes (wrong magic,
unreadable header, truncation, a digest that does not match) are a one-line
:class:`EmlcError`: a damaged object is never run.

The object code runs as-is: load files only from a source you trust, as with pickle.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, fields
from pathlib import Path

from ...errors import EmlcError, RecompileWarning
from ...float_traps import traps_off
from ...ir.text import parse_ir
from .predictor import Build, Predictor

MAGIC = b"emlc-jit\n"
FORMAT = 2  # 2: Build has inline_max_nodes
_FIX = "save the predictor again with predictor.save(path) or pickle it again"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(predictor: Predictor) -> bytes:
    """The bytes :func:`loads` turns back into an equal predictor."""
    ir = predictor.ir_text.encode()
    obj = predictor.object_code
    header = {
        "format": FORMAT,
        "build": asdict(predictor.build),
        "n_jobs": predictor.n_jobs,
        "ir_bytes": len(ir),
        "ir_sha256": _digest(ir),
        "object_bytes": len(obj),
        "object_sha256": _digest(obj),
    }
    return b"".join((MAGIC, json.dumps(header).encode(), b"\n", ir, obj))


def _damaged(why: str) -> EmlcError:
    return EmlcError(f"damaged emlc predictor: {why}; {_FIX}")


def _header(data: bytes) -> tuple[dict, int]:
    """The header and the offset of the IR text."""
    if not data.startswith(MAGIC):
        raise EmlcError(f"not an emlc predictor (it does not start with {MAGIC[:-1].decode()!r}); {_FIX}")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise _damaged("the header line is cut off")
    try:
        header = json.loads(data[len(MAGIC):end])
    except (UnicodeDecodeError, ValueError):
        raise _damaged("the header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise EmlcError(f"emlc predictor format {found!r} is not {FORMAT}, the one this emlc reads; {_FIX}")
    return header, end + 1


def _build(header: dict) -> Build:
    names = {f.name for f in fields(Build)}
    saved = header.get("build")
    if not isinstance(saved, dict) or set(saved) != names:
        raise _damaged("the header's build fields are wrong")
    try:
        build = Build(**saved)
    except TypeError:
        raise _damaged("the header's build fields are wrong") from None
    if not all(isinstance(getattr(build, f.name), str if f.type == "str" else int) for f in fields(Build)):
        raise _damaged("the header's build fields have wrong types")
    return build


def _part(data: bytes, start: int, header: dict, name: str) -> bytes:
    size, digest = header.get(f"{name}_bytes"), header.get(f"{name}_sha256")
    if not isinstance(size, int) or size < 0 or not isinstance(digest, str):
        raise _damaged(f"the header's {name} size or digest is missing")
    part = data[start:start + size]
    if len(part) < size:
        raise _damaged(f"truncated: the {name} part has {len(part)} of {size} bytes")
    if _digest(part) != digest:
        raise _damaged(f"the {name} part does not match its SHA-256")
    return part


@traps_off
def loads(data: bytes) -> Predictor:
    """A predictor from :func:`dumps` bytes, linked as saved, or recompiled if the build differs."""
    header, start = _header(bytes(data))
    build = _build(header)
    ir = _part(data, start, header, "ir")
    obj = _part(data, start + len(ir), header, "object")
    if start + len(ir) + len(obj) != len(data):
        raise _damaged(f"{len(data) - start - len(ir) - len(obj)} bytes follow the object code")
    n_jobs = header.get("n_jobs")
    ens = parse_ir(ir.decode(), "<saved predictor>")
    here = Build.here(build.opt, build.vector_max_nodes, build.inline_max_nodes)
    differences = here.differences(build)
    if not differences:
        return Predictor.from_object(ens, n_jobs, build, obj)
    warnings.warn(f"emlc: recompiling the saved predictor: {'; '.join(differences)}",
                  RecompileWarning, stacklevel=3)
    return Predictor(ens, n_jobs=n_jobs, opt=build.opt, vector_max_nodes=build.vector_max_nodes,
                     inline_max_nodes=build.inline_max_nodes)


def save(predictor: Predictor, path) -> None:
    """Write :func:`dumps` bytes to ``path``."""
    try:
        Path(path).write_bytes(dumps(predictor))
    except OSError as e:
        raise EmlcError(f"cannot write the predictor to {str(path)!r}: {e.strerror}; choose a writable path") from None


def load_predictor(path) -> Predictor:
    """The predictor :meth:`Predictor.save` wrote to ``path`` (run only files you trust)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise EmlcError(f"cannot read the predictor {str(path)!r}: {e.strerror}; check the path") from None
    return loads(data)
