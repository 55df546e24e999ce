"""The `emlc` command line: load a model, optimise it for a target, emit code.

Exit codes: 0 success, 1 user error (one line ``emlc: error: ...`` with the fix),
2 internal error (a bug: the message asks for a report).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import NoReturn, Sequence

from . import __version__
from .api import EMITTERS
from .errors import EmlcError

SUFFIX = {"c": ".h", "csv": ".csv", "micropython": ".py", "llvm": ".ll", "obj": ".o", "ir": ".emlir"}
LEVELS = ("O0", "O1", "O2", "Os")
INPUTS = ("float32", "int16", "int8", "uint8")
BUG_HINT = "this is a bug in emlc; please report it with the command line and model file"


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as one `emlc: error:` line and exit code 1."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"emlc: error: {message} (see emlc --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="emlc",
        description=(
            "Compile a trained tree ensemble (scikit-learn, XGBoost, LightGBM, ONNX, .emlir) "
            "into C, MicroPython, LLVM IR or object code for a microcontroller or the host. "
            "`emlc targets` lists the targets."
        ),
        epilog="Example: emlc model.json -O2 --target avr -o model.h",
    )
    p.add_argument("model", help="model file (.json/.ubj XGBoost, .txt LightGBM, .onnx, .skops, .emlir; .pkl/.joblib need --trust-pickle)")
    opt = p.add_mutually_exclusive_group()
    for level in LEVELS:
        opt.add_argument(
            f"-{level}", dest="level", action="store_const", const=level,
            help={
                "O0": "lower only, no optimisation",
                "O1": "cheap lossless optimisations",
                "O2": "all lossless optimisations, tuned for speed (default)",
                "Os": "all lossless optimisations, tuned for size",
            }[level],
        )
    p.set_defaults(level="O2")
    p.add_argument("--target", default="host", help="target to compile for (default: host; see `emlc targets`)")
    p.add_argument("--emit", choices=EMITTERS, default="c", help="what to write (default: c)")
    p.add_argument("--name", default="model", help="C/Python identifier prefix of the generated API (default: model)")
    p.add_argument(
        "--input", choices=INPUTS, default=None,
        help="declare the feature type the device passes in (default float32); integer inputs make thresholds integers",
    )
    p.add_argument("-o", "--output", help="output file ('-' for stdout; default: the model's name with the emitter's suffix)")
    p.add_argument("--layout", choices=("inline", "table"), help="force the C code shape (default: chosen per target)")
    p.add_argument("--passes", help="run exactly these comma-separated passes instead of the -O level's list")
    p.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass (to stderr)")
    p.add_argument("--print-ir-after", action="append", default=[], metavar="PASS", help="print the IR after PASS (to stderr); repeatable")
    p.add_argument("--report", action="store_true", help="print a per-pass size table and the flash/RAM estimate (to stderr)")
    p.add_argument("--report-json", metavar="FILE", help="write the report as JSON ('-' for stdout)")
    p.add_argument("--trust-pickle", action="store_true", help="allow loading .pkl/.joblib files (runs code from the file: only for files you trust)")
    p.add_argument("--version", action="version", version=f"emlc {__version__}")
    return p


def _default_output(model: str, emit: str) -> Path:
    return Path(Path(model).stem + SUFFIX[emit])


def _targets_table() -> str:
    from .targets import TARGETS

    rows = [("target", "word", "fpu", "flash", "ram", "description")]
    for t in TARGETS.values():
        rows.append((t.name, f"{t.word_bits}-bit", "yes" if t.has_fpu else "no",
                     _bytes(t.flash_bytes), _bytes(t.ram_bytes), t.description))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} B"


def run(args: argparse.Namespace) -> int:
    from .api import compile

    print_after: set[str] | str | None = "all" if args.print_ir_after_all else set(args.print_ir_after) or None
    passes = [p.strip() for p in args.passes.split(",") if p.strip()] if args.passes else None
    built = compile(
        args.model, target=args.target, level=args.level, emit_as=args.emit, name=args.name,
        input_type=args.input, layout=args.layout, passes=passes, print_ir_after=print_after,
        stream=sys.stderr, trust_pickle=args.trust_pickle,
    )
    _write(built.code, args.output or str(_default_output(args.model, args.emit)))
    if args.report or args.report_json:
        from .report import build_report, format_report

        report = build_report(built.result, built.target, built.layout or built.result.layout)
        if args.report:
            print(format_report(report), file=sys.stderr)
        if args.report_json:
            _write(json.dumps(report, indent=2) + "\n", args.report_json)
    return 0


def _write(data: str | bytes, path: str) -> None:
    if path == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return
    try:
        Path(path).write_bytes(data) if isinstance(data, bytes) else Path(path).write_text(data)
    except OSError as e:
        raise EmlcError(f"cannot write {path}: {e.strerror}; choose another path with -o") from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["targets"]:
            print(_targets_table())
            return 0
        args = build_parser().parse_args(argv)
        return run(args)
    except EmlcError as e:
        print(f"emlc: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("emlc: interrupted", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print(f"emlc: internal error: {BUG_HINT}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
