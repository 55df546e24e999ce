"""One entry point for every model: a fitted library object or a file, recognised by kind.

Objects are dispatched by the library that defines their class; files by suffix,
with the content checked against it (and sniffed when the suffix says nothing).
Pickles run arbitrary code when loaded, so they are refused unless the caller
opts in; skops files are loaded only when every type they need is one we lower.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..errors import EmlcError
from ..extras import missing, require
from ..ir.ensemble import Ensemble
from ..ir.verify import verify
from ..limits import check_file_size, load_json, read_bytes
from ..float_traps import traps_off
from ..gc_pause import gc_paused

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_FORMATS = (
    ".emlir (emlc IR), .json/.ubj (XGBoost), .txt/.json (LightGBM), .onnx, .skops, "
    ".pkl/.joblib (trusted pickles)"
)
#: types a skops file may ask us to trust: those the scikit-learn lowerings read (the
#: tree structures, HistGradientBoosting's input encoder check) and nothing that runs code.
_SKOPS_TYPES = frozenset({
    "functools.partial",
    "sklearn.utils.validation.check_array",
})
_SKOPS_PACKAGES = ("sklearn.tree.", "sklearn.ensemble.", "sklearn._loss.", "sklearn.dummy.")


@traps_off
@gc_paused
def load(obj_or_path: Any, *, trust_pickle: bool = False) -> Ensemble:
    """Lower a fitted model object or a model file into a verified :class:`Ensemble`."""
    if isinstance(obj_or_path, Ensemble):
        return obj_or_path
    if isinstance(obj_or_path, (str, os.PathLike)):
        return verify(_load_file(Path(obj_or_path), trust_pickle))
    return verify(_load_object(obj_or_path))


def _library(obj: Any) -> str | None:
    """The top-level package defining ``obj``'s class or one of its bases."""
    for cls in type(obj).__mro__:
        top = cls.__module__.split(".")[0]
        if top in _OBJECT_LOADERS:
            return top
    return None


def _load_object(obj: Any) -> Ensemble:
    library = _library(obj)
    if library is None:
        raise EmlcError(
            f"cannot load a {type(obj).__module__}.{type(obj).__name__}: pass a fitted scikit-learn, "
            f"XGBoost or LightGBM model, an ONNX ModelProto, or a model file ({_FORMATS})"
        )
    return _OBJECT_LOADERS[library](obj)


def _from_sklearn(obj: Any) -> Ensemble:
    from .sklearn import from_sklearn

    return from_sklearn(obj)


def _from_xgboost(obj: Any) -> Ensemble:
    from .xgboost import from_xgboost

    return from_xgboost(obj)


def _from_lightgbm(obj: Any) -> Ensemble:
    from .lightgbm import from_lightgbm

    return from_lightgbm(obj)


def _from_onnx(obj: Any) -> Ensemble:
    from .onnx import from_onnx

    return from_onnx(obj)


_OBJECT_LOADERS: dict[str, Callable[[Any], Ensemble]] = {
    "sklearn": _from_sklearn,
    "xgboost": _from_xgboost,
    "lightgbm": _from_lightgbm,
    "onnx": _from_onnx,
}


def _load_file(path: Path, trust_pickle: bool) -> Ensemble:
    if not path.exists():
        raise EmlcError(f"model file {str(path)!r} does not exist")
    if not path.is_file():
        raise EmlcError(f"{str(path)!r} is not a file; pass the model file itself")
    check_file_size(path)
    try:
        with path.open("rb") as f:
            head = f.read(4096)
            blank = not head.strip() and not f.read().strip()
    except OSError as e:
        raise EmlcError(f"cannot read model file {str(path)!r}: {e.strerror or e}") from None
    if blank:
        raise EmlcError(f"model file {str(path)!r} is empty; save the model again")
    kind = _kind_of(path, head)
    if kind == "pickle":
        return _load_pickle(path, trust_pickle)
    return _FILE_LOADERS[kind](path)


_BY_SUFFIX = {
    ".emlir": "emlir",
    ".json": "json",
    ".ubj": "xgboost",
    ".txt": "lightgbm",
    ".onnx": "onnx",
    ".skops": "skops",
    **{s: "pickle" for s in _PICKLE_SUFFIXES},
}


def _sniff(head: bytes) -> str | None:
    """The format the first bytes of a file look like, for files without a known suffix."""
    text = head.lstrip()
    if text.startswith(b"emlc-ir"):
        return "emlir"
    if head.startswith(b"PK\x03\x04"):
        return "skops"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if text.startswith((b"tree\n", b"tree\r\n")):
        return "lightgbm"
    if text.startswith(b"{"):
        return "json" if text[1:2].isspace() or text[1:2] in (b'"', b"}") else "xgboost"
    return None


#: suffixes XGBoost's legacy binary models were saved under (``.model`` may also be LightGBM text)
_LEGACY_XGBOOST_SUFFIXES = (".model", ".bst", ".bin", ".deprecated")


def _kind_of(path: Path, head: bytes) -> str:
    """The loader for ``path``: by suffix, else by content (``json`` covers XGBoost and LightGBM)."""
    kind = _BY_SUFFIX.get(path.suffix.lower()) or _sniff(head)
    if kind is None and path.suffix.lower() in _LEGACY_XGBOOST_SUFFIXES:
        raise EmlcError(
            f"{str(path)!r} looks like XGBoost's legacy binary format, which emlc (and XGBoost 3) "
            "cannot read; load it with xgboost<3 and save it with save_model('model.json')"
        )
    if kind is None:
        raise EmlcError(
            f"cannot tell the format of {str(path)!r} (suffix {path.suffix or 'none'!r}); "
            f"use one of: {_FORMATS}"
        )
    return kind


def _load_json(path: Path) -> Ensemble:
    """XGBoost models have a ``learner``; LightGBM's ``dump_model`` has ``tree_info``.

    The document is parsed once and handed to the frontend (big models take seconds to parse).
    """
    doc = load_json(read_bytes(path), repr(str(path)))
    if isinstance(doc, dict) and "learner" in doc:
        from .xgboost import from_xgboost_document

        return from_xgboost_document(doc)
    if isinstance(doc, dict) and "tree_info" in doc:
        from .lightgbm import from_lightgbm_dump

        return from_lightgbm_dump(doc, str(path))
    raise EmlcError(
        f"{str(path)!r} is JSON but neither an XGBoost model (no 'learner') nor a LightGBM "
        f"dump (no 'tree_info'); save it with Booster.save_model / dump_model"
    )


def _load_emlir(path: Path) -> Ensemble:
    from ..ir.text import parse_ir

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise EmlcError(
            f"{str(path)!r} is not UTF-8 text; an .emlir file is written by print_ir"
        ) from None
    return parse_ir(text, source=str(path))


def _load_pickle(path: Path, trust_pickle: bool) -> Ensemble:
    if not trust_pickle:
        raise PickleRefused(str(path))
    try:
        obj = _unpickle(path)
    except ModuleNotFoundError as e:  # the model's library (or joblib) is not installed
        raise missing(e, f"unpickling {str(path)!r}") from None
    except Exception as e:  # a corrupt pickle can raise nearly anything
        raise EmlcError(f"cannot unpickle {str(path)!r}: {type(e).__name__}: {e}") from None
    return _load_object(obj)


def _unpickle(path: Path) -> Any:
    """joblib's loader when installed (it reads joblib's compressed files); else plain pickle,
    which reads ``pickle.dump`` files and names joblib when the file needs it."""
    try:
        import joblib
    except ModuleNotFoundError:
        import pickle

        with path.open("rb") as f:
            return pickle.load(f)
    return joblib.load(path)


class PickleRefused(EmlcError):
    """A pickle loaded without the caller's opt-in; the CLI and the API name their own switch."""

    def __init__(self, path: str, switch: str = "trust_pickle=True"):
        super().__init__(
            f"refusing to load pickle {path!r}: unpickling runs arbitrary code from the file; "
            f"if you trust it, pass {switch}, or save the model with skops"
        )
        self.path = path

    def for_switch(self, switch: str) -> PickleRefused:
        """The same refusal naming ``switch`` (the CLI's ``--trust-pickle``)."""
        return PickleRefused(self.path, switch)


def _load_skops(path: Path) -> Ensemble:
    sio = require("skops.io", "loading .skops files")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as e:  # skops reports corrupt archives with assorted exceptions
        raise EmlcError(f"cannot read skops file {str(path)!r}: {type(e).__name__}: {e}") from None
    foreign = [t for t in untrusted if not _skops_allowed(t)]
    if foreign:
        raise EmlcError(
            f"skops file {str(path)!r} holds types emlc does not lower and will not load: "
            f"{', '.join(sorted(foreign))}"
        )
    try:
        obj = sio.load(path, trusted=untrusted)
    except ModuleNotFoundError as e:
        raise missing(e, f"loading skops file {str(path)!r}") from None
    except Exception as e:
        raise EmlcError(f"cannot load skops file {str(path)!r}: {type(e).__name__}: {e}") from None
    return _load_object(obj)


def _skops_allowed(type_name: str) -> bool:
    return type_name in _SKOPS_TYPES or type_name.startswith(_SKOPS_PACKAGES)


_FILE_LOADERS: dict[str, Callable[[Path], Ensemble]] = {
    "json": _load_json,
    "emlir": _load_emlir,
    "xgboost": _from_xgboost,
    "lightgbm": _from_lightgbm,
    "onnx": _from_onnx,
    "skops": _load_skops,
}
