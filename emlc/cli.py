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
from .api import OutputFormat
from .backends.micropython.emit import CsvFlavor
from .cost import FlashBudget
from .errors import EmlcError
from .frontends.load import PickleRefused

SUFFIX = {"c": ".h", "csv": ".csv", "micropython": ".py", "llvm": ".ll", "obj": ".o", "ir": ".emlir"}
LEVELS = ("O0", "O1", "O2", "Os")
INPUTS = ("float32", "float64", "int16", "int8", "uint8")
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
    p.add_argument("--emit", choices=[f.value for f in OutputFormat], default=OutputFormat.C.value, help="what to write (default: c)")
    p.add_argument(
        "--csv-flavor", choices=[f.value for f in CsvFlavor], default=CsvFlavor.AUTO.value,
        help="with --emit csv: emlearn-micropython's format, emlc_trees' richer one, or auto (emlearn's when exact)",
    )
    p.add_argument("--name", default="model", help="C/Python identifier prefix of the generated API (default: model)")
    p.add_argument(
        "--input", choices=INPUTS, default=None,
        help="declare the feature type the device passes in (default: float32 on microcontrollers, the library's own "
             "type on the host; float64 where double is 64-bit and the library compares float64); "
             "integer inputs make thresholds integers",
    )
    p.add_argument("-o", "--output", help="output file ('-' for stdout; default: the model's name with the emitter's suffix)")
    p.add_argument("--layout", choices=("inline", "table"), help="force the C code shape (default: chosen per target)")
    p.add_argument(
        "--flash-budget", metavar="BYTES|PERCENT", type=_flash_budget, default=FlashBudget(),
        help="flash the speed levels may give the model: bytes (12000, 24K) or a share of the target's flash "
             "(40%%); C takes the fastest build within it, --report lists those considered (default: 50%%)",
    )
    p.add_argument("--passes", help="run exactly these comma-separated passes instead of the -O level's list")
    p.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass (to stderr)")
    p.add_argument("--print-ir-after", action="append", default=[], metavar="PASS", help="print the IR after PASS (to stderr); repeatable")
    p.add_argument("--report", action="store_true", help="print a per-pass size table and the flash/RAM estimate (to stderr)")
    p.add_argument("--report-json", metavar="FILE", help="write the report as JSON ('-' for stdout)")
    lossy = p.add_argument_group(
        "lossy compression (opt-in: may change predictions; the cost is measured on --calibration data)"
    )
    lossy.add_argument("--leaf-bits", type=int, choices=(8, 4), help="quantize leaf values to 8 or 4 bits")
    lossy.add_argument("--leaf-clusters", type=_positive_int, metavar="K", help="k-means the leaf vectors into K shared leaves")
    lossy.add_argument("--leaves-per-class", type=_positive_int, metavar="N", help="like --leaf-clusters with K = N x classes")
    lossy.add_argument("--float32-sums", action="store_true",
                       help="lossy: without a 64-bit double (AVR, 8051), leave float64 near-ties to float sums "
                            "instead of exact binary64 integer arithmetic (saves 4-5 KB of flash on AVR, "
                            "7.8 KB on the 8051)")
    lossy.add_argument("--hard-vote", action="store_true", help="each tree votes for one class (emlearn's default)")
    lossy.add_argument("--early-exit", type=_fraction, metavar="THRESHOLD", help="stop evaluating trees once this confident (0-1]; 1 is exact")
    lossy.add_argument("--early-exit-batch", type=_positive_int, default=None, metavar="B",
                       help="check the early exit every B rounds of trees (default: every round, or on AVR table builds, where a check costs about a tree, the interval the cost model finds fastest)")
    lossy.add_argument("--calibration", metavar="FILE", help="rows to measure agreement/accuracy on (.csv, .npy, .npz)")
    lossy.add_argument("--calibration-labels", choices=("none", "first", "last"), default="none", help="which CSV column holds labels (default: none)")
    lossy.add_argument("--max-accuracy-drop", type=float, metavar="P", help="search the knobs for the smallest/fastest model losing at most P percentage points on --calibration")
    lossy.add_argument("--optimize-for", choices=("size", "speed"), default="size", help="what --max-accuracy-drop minimises (default: size)")
    lossy.add_argument("--plot", metavar="FILE.png", help="with --max-accuracy-drop: draw size vs agreement")
    p.add_argument("--trust-pickle", action="store_true", help="allow loading .pkl/.joblib files (runs code from the file: only for files you trust)")
    p.add_argument("--version", action="version", version=f"emlc {__version__}")
    return p


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _flash_budget(text: str) -> FlashBudget:
    try:
        return FlashBudget.parse(text)
    except EmlcError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix(f"--flash-budget {text!r}: ")) from None


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _lossy(args: argparse.Namespace):
    from .api import Lossy
    from .passes.lossy.apply import LossySettings

    if args.max_accuracy_drop is not None and not 0 <= args.max_accuracy_drop <= 100:
        raise EmlcError(f"--max-accuracy-drop is in percentage points (0-100), got {args.max_accuracy_drop:g}")
    if args.plot and args.max_accuracy_drop is None:
        raise EmlcError("--plot draws the --max-accuracy-drop search; add --max-accuracy-drop P")
    settings = LossySettings(
        leaf_bits=args.leaf_bits, leaf_clusters=args.leaf_clusters, leaves_per_class=args.leaves_per_class,
        hard_vote=args.hard_vote, early_exit=args.early_exit, early_exit_batch=args.early_exit_batch,
    )
    return Lossy(
        settings=settings,
        max_accuracy_drop=None if args.max_accuracy_drop is None else args.max_accuracy_drop / 100,
        optimize_for=args.optimize_for,
    )


def _progress(i: int, total: int, row) -> None:
    print(f"emlc: searching {i}/{total}: {row.settings.label()}", file=sys.stderr)


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
    lossy = _lossy(args)
    calibration = None
    if args.calibration:
        from .calibration import load_calibration
        from .frontends import load

        n_features = load(args.model, trust_pickle=args.trust_pickle).n_features
        calibration = load_calibration(args.calibration, n_features, labels=args.calibration_labels)
    built = compile(
        args.model, target=args.target, level=args.level, emit_as=args.emit, name=args.name,
        input_type=args.input, layout=args.layout, passes=passes, print_ir_after=print_after,
        stream=sys.stderr, trust_pickle=args.trust_pickle, csv_flavor=args.csv_flavor, lossy=lossy, calibration=calibration,
        progress=_progress, float32_sums=args.float32_sums, flash_budget=args.flash_budget,
    )
    output = args.output or str(_default_output(args.model, args.emit))
    _write(built.code, output)
    if built.input_note is not None:
        print(f"emlc: note: {built.input_note.text()}", file=sys.stderr)
    if built.budget is not None:
        print(built.budget.table(), file=sys.stderr)
        print(f"emlc: chose {built.budget.chosen.label()}", file=sys.stderr)
        if args.plot:
            built.budget.plot(args.plot)
    elif built.lossy is not None and not args.report:
        print(built.lossy.table(), file=sys.stderr)
    if args.report or args.report_json:
        from .report import build_report, format_report

        size = len(built.code.encode() if isinstance(built.code, str) else built.code)
        report = build_report(built, written=(output, size))
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
    except PickleRefused as e:
        print(f"emlc: error: {e.for_switch('--trust-pickle')}", file=sys.stderr)
        return 1
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
