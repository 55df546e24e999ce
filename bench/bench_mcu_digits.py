"""Digits RandomForests on 32-bit MCUs in qemu: model-only flash and RAM, agreement.

The AVR benchmark's forests and rows (bench_avr_digits.py: scikit-learn digits,
RandomForestClassifier(n_estimators, max_depth, random_state=0), 10x6, 20x5 and 30x6, 30
test rows) on emlc's 32-bit targets: cortex-m0 (qemu-system-arm -M microbit), cortex-m4f
(-M mps2-an386) and rv32ec (the CH32V003: 16 KiB flash, 2 KiB RAM; qemu-system-riscv32 -M
virt). emlc builds as the command line makes them (emlc.compile: -O2, -Os, --input int16; -O2
on the Cortex-M cores: the inline walk adding int32 leaf sums in code, on the M4F with float
tests in the FPU; on the RV32EC the table walk, the one build within its default budget);
the peers' code (emlearn, micromlgen, m2cgen) is generated now by bench_avr_digits'
peer_variants. Each variant is one firmware calling only predict on the 30 rows (bytes in
flash, digits pixels being integers 0..16) and printing the classes, linked by the test
harness (tests/e2e/harness.py) with the target's cross compiler and flags from
emlc.targets (-Os, function/data sections, --gc-sections); emlc's C with the strict
warnings, the peers' without -Werror/-pedantic. Model-only flash is text + data minus an
empty firmware's (same I/O, predict replaced by reading x[0]), RAM data + bss likewise.
"fits" is whether the whole firmware (model, the 1,920 B of rows, I/O) is within the
target's flash and RAM (emlc.targets; the stack is not counted). "agree" is agreement with
scikit-learn's predict, "IR" with emlc's interpreter on the IR the build came from: 100%
or the build is wrong.

qemu counts no cycles (and models no Cortex-M DWT cycle counter). "instr" is the number of
instructions executed per prediction (mean over the 30 rows, the call and the result's
store included), counted exactly from qemu's trace (-singlestep -d exec,nochain: one
logged line per executed instruction) between two calls of a marker function around
predict. It is deterministic, but it is not cycles: on a Cortex-M0 loads, branches and
multiplies differ in cost, and the CH32V003's 2-stage pipeline and flash wait states are
not modelled either.

    python bench/bench_mcu_digits.py [10x6|20x5|30x6 ...] [cortex-m0|cortex-m4f|rv32ec ...]

Last run (qemu 7.2, arm-none-eabi-gcc 12.2, riscv64-unknown-elf-gcc 12.2, -Os):

    ## digits RandomForest 10x6, cortex-m0
    build (model-only flash, RAM)                 flash B  RAM B  fits   instr   agree      IR
    emlc -O2 inline                                 29478      0   yes     755  100.0%  100.0%
    emlc -Os table                                   6482      0   yes    4772  100.0%  100.0%
    emlc -O2 --input int16 inline                   21930      0   yes     587  100.0%  100.0%
    emlc -Os --input int16 table                     6012      0   yes    3972  100.0%  100.0%
    emlearn inline (float features)                  8884      0   yes    2734   96.7%       -
    emlearn inline (int16 features)                  6212      0   yes     607   83.3%       -
    emlearn loadable (int16 features)                6788     28   yes    5323   83.3%       -
    micromlgen (float)                               9436      0   yes    3206   96.7%       -
    m2cgen (float)                                  45680      0   yes   22227  100.0%       -
    (empty firmware: 2880 B flash, 516 B RAM; cortex-m0 has 262144 / 16384)

    ## digits RandomForest 10x6, cortex-m4f
    build (model-only flash, RAM)                 flash B  RAM B  fits   instr   agree      IR
    emlc -O2 inline                                 25418      0   yes     465  100.0%  100.0%
    emlc -Os table                                   6538      0   yes    3346  100.0%  100.0%
    emlc -O2 --input int16 inline                   23114      0   yes     445  100.0%  100.0%
    emlc -Os --input int16 table                     6008      0   yes    2722  100.0%  100.0%
    emlearn inline (float features)                  9576      0   yes     543   96.7%       -
    emlearn inline (int16 features)                  5432      0   yes     438   83.3%       -
    emlearn loadable (int16 features)                4592     28   yes    1560   83.3%       -
    micromlgen (float)                               9336      0   yes     431   96.7%       -
    m2cgen (float)                                  41692      0   yes   10538  100.0%       -
    (empty firmware: 2372 B flash, 516 B RAM; cortex-m4f has 1048576 / 131072)

    ## digits RandomForest 10x6, rv32ec
    build (model-only flash, RAM)                 flash B  RAM B  fits   instr   agree      IR
    emlc -O2 table                                   8784      0   yes    3187  100.0%  100.0%
    emlc -Os table                                   6808      0   yes    6790  100.0%  100.0%
    emlc -O2 --input int16 table                     7992      0   yes    2057  100.0%  100.0%
    emlc -Os --input int16 table                     6384      0   yes    6146  100.0%  100.0%
    emlearn inline (float features)                  9892      0   yes    1943   96.7%       -
    emlearn inline (int16 features)                  5672      0   yes     504   83.3%       -
    emlearn loadable (int16 features)                7788     28   yes    7460   83.3%       -
    micromlgen (float)                              10892      0   yes    2177   96.7%       -
    m2cgen (float)                                  49616      0    NO   38355  100.0%       -
    (empty firmware: 3016 B flash, 256 B RAM; rv32ec has 16384 / 2048)

    ## digits RandomForest 20x5, cortex-m0
    build (model-only flash, RAM)                 flash B  RAM B  fits   instr   agree      IR
    emlc -O2 inline                                 42302      0   yes    1279  100.0%  100.0%
    emlc -Os table                                   8366      0   yes    8869  100.0%  100.0%
    emlc -O2 --input int16 inline                   33918      0   yes     997  100.0%  100.0%
    emlc -Os --input int16 table                     7880      0   yes    7659  100.0%  100.0%
    emlearn inline (float features)                 11168      0   yes    4547  100.0%       -
    emlearn inline (int16 features)                  7476      0   yes     905   93.3%       -
    emlearn loadable (int16 features)                7492     28   yes    7502   93.3%       -
    micromlgen (float)                              11316      0   yes    4957  100.0%       -
    m2cgen (float)                                  60816      0   yes   39766  100.0%       -
    (empty firmware: 2880 B flash, 516 B RAM; cortex-m0 has 262144 / 16384)

    ## digits RandomForest 20x5, cortex-m4f
    build (model-only flash, RAM)                 flash B  RAM B  fits   instr   agree      IR
    emlc -O2 inline                                 36874      0   yes     783  100.0%  100.0%
    emlc -Os table                                   8418      0   yes    6303  100.0%  100.0%
    emlc -O2 --input int16 inline                   35894      0   yes     791  100.0%  100.0%
    emlc -Os --input int16 table                     7868      0   yes    5270  100.0%  100.0%
    emlearn inline (float features)                 11820      0   yes     850  100.0%       -
    emlearn inline (int16 features)                  6756      0   yes     670   93.3%       -
    emlearn loadable (int16 features)                5296     28   yes    2415   93.3%       -
    micromlgen (float)                              11188      0   yes     621  100.0%       -
    m2cgen (float)                                  56596      0   yes   19021  100.0%       -
    (empty firmware: 2372 B flash, 516 B RAM; cortex-m4f has 1048576 / 131072)

    ## digits RandomForest 20x5, rv32ec
    build (model-only flash, RAM)                 flash B  RAM B  fits   instr   agree      IR
    emlc -O2 table                                  12468      0   yes    6448  100.0%  100.0%
    emlc -Os table                                   8684      0   yes   14457  100.0%  100.0%
    emlc -O2 --input int16 table                    11656      0   yes    4401  100.0%  100.0%
    emlc -Os --input int16 table                     8236      0   yes   13424  100.0%  100.0%
    emlearn inline (float features)                 12460      0   yes    3190  100.0%       -
    emlearn inline (int16 features)                  7128      0   yes     723   93.3%       -
    emlearn loadable (int16 features)                8492     28   yes   10278   93.3%       -
    micromlgen (float)                              13680      0    NO    3306  100.0%       -
    m2cgen (float)                                  66296      0    NO   60763  100.0%       -
    (empty firmware: 3016 B flash, 256 B RAM; rv32ec has 16384 / 2048)

    ## digits RandomForest 30x6, cortex-m0
    build (model-only flash, RAM)                 flash B  RAM B  fits   instr   agree      IR
    emlc -O2 inline                                 85900      0   yes    1988  100.0%  100.0%
    emlc -Os table                                  17170      0   yes   16359  100.0%  100.0%
    emlc -O2 --input int16 inline                   62044      0   yes    1451  100.0%  100.0%
    emlc -Os --input int16 table                    15096      0   yes   11332  100.0%  100.0%
    emlearn inline (float features)                 26308      0   yes    7885  100.0%       -
    emlearn inline (int16 features)                 18768      0   yes    1488   96.7%       -
    emlearn loadable (int16 features)               15060     28   yes    9936   96.7%       -
    micromlgen (float)                              28132      0   yes    8201  100.0%       -
    m2cgen (float)                                 127144      0   yes   57892  100.0%       -
    (empty firmware: 2880 B flash, 516 B RAM; cortex-m0 has 262144 / 16384)

    ## digits RandomForest 30x6, cortex-m4f
    build (model-only flash, RAM)                 flash B  RAM B  fits   instr   agree      IR
    emlc -O2 inline                                 74404      0   yes    1249  100.0%  100.0%
    emlc -Os table                                  17238      0   yes   12162  100.0%  100.0%
    emlc -O2 --input int16 inline                   64608      0   yes    1124  100.0%  100.0%
    emlc -Os --input int16 table                    15108      0   yes    7798  100.0%  100.0%
    emlearn inline (float features)                 29048      0   yes    1329  100.0%       -
    emlearn inline (int16 features)                 16456      0   yes    1011   96.7%       -
    emlearn loadable (int16 features)               12864     28   yes    3887   96.7%       -
    micromlgen (float)                              26592      0   yes     979  100.0%       -
    m2cgen (float)                                 120476      0   yes   28244  100.0%       -
    (empty firmware: 2372 B flash, 516 B RAM; cortex-m4f has 1048576 / 131072)

    ## digits RandomForest 30x6, rv32ec
    build (model-only flash, RAM)                 flash B  RAM B  fits   instr   agree      IR
    emlc -O2                                     emlc refuses: model does not fit: it needs about 23054 bytes of flash but rv32ec has 16384
    emlc -Os                                     emlc refuses: model does not fit: it needs about 17915 bytes of flash but rv32ec has 16384
    emlc -O2 --input int16                       emlc refuses: model does not fit: it needs about 21490 bytes of flash but rv32ec has 16384
    emlc -Os --input int16 table                    15444      0    NO   17764  100.0%  100.0%
    emlearn inline (float features)                 29796      0    NO    5375  100.0%       -
    emlearn inline (int16 features)                 17076      0    NO    1043   96.7%       -
    emlearn loadable (int16 features)               16060     28    NO   12786   96.7%       -
    micromlgen (float)                              30708      0    NO    5377  100.0%       -
    m2cgen (float)                                 137048      0    NO   81439  100.0%       -
    (empty firmware: 3016 B flash, 256 B RAM; rv32ec has 16384 / 2048)

(1 min 30 s on 2 shared cores. Before the 32-bit speed paths, 10x6 -O2 took 1,659 instructions on
the Cortex-M0, 1,018 on the Cortex-M4F and 3,708 on the RV32EC; see the README)
"""

from __future__ import annotations

import argparse
import itertools
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import emlc  # noqa: E402
from bench_avr_digits import FORESTS, peer_variants  # noqa: E402
from emlc.ir.interpret import interpret_early_exit  # noqa: E402
from emlc.targets import get_target  # noqa: E402
from tests.e2e.harness import build, execute  # noqa: E402

TARGETS = ("cortex-m0", "cortex-m4f", "rv32ec")

#: the firmware around one variant: run_all, out_char and out_done are the harness's
#: platform interface. Each predict runs between two calls of bench_mark, whose
#: instructions qemu's trace shows ("memory": no call moves across it).
FIRMWARE = r"""
#include <stdint.h>
@MODEL@
#ifdef __cplusplus
extern "C" {
#endif
void out_char(char c);
void out_done(void);
void run_all(void);
void bench_mark(void);
#ifdef __cplusplus
}
#endif
static const uint8_t rows[@N@][64] = { @ROWS@ };
__attribute__((noinline)) void bench_mark(void)
{
    __asm__ volatile("" ::: "memory");
}
static void put_u32(uint32_t v)
{
    char d[11];
    int k = 0;
    do {
        d[k++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (k) {
        out_char(d[--k]);
    }
}
void run_all(void)
{
    static @IN_T@ x[64];
    uint32_t r, j, got;
    for (r = 0; r < @N@u; ++r) {
        for (j = 0; j < 64u; ++j) {
            x[j] = (@IN_T@)rows[r][j];
        }
        bench_mark();
        got = (uint32_t)(@CALL@);
        bench_mark();
        put_u32(got);
        out_char(' ');
    }
    out_char('\n');
    out_done();
}
"""

#: what an empty firmware calls instead of predict
EMPTY_CALL = "(int)x[0]"


@dataclass(frozen=True)
class Variant:
    """One build to measure: its C (or why it was refused), how to call it, and the IR
    an emlc build came from (None for peers)."""

    label: str
    code: str | Exception
    call: str
    in_t: str
    cxx: bool = False
    includes: tuple[str, ...] = ()
    ir: object = None

    @property
    def strict(self) -> bool:
        return self.ir is not None


@dataclass(frozen=True)
class Firmware:
    """A linked, run firmware: the classes it printed, its sizes, and the instructions each
    predict took (with its call and the result's store)."""

    pred: list[int]
    flash: int
    ram: int
    instructions: list[int]


def marked_instructions(trace: list[str]) -> list[int]:
    """Instructions executed between each pair of bench_mark calls in qemu's trace (the
    first mark's body excluded, the call to the second included)."""
    marks = [k for k, line in enumerate(trace) if line.endswith(" bench_mark")]
    entry = trace[marks[0]].split("[", 1)[1].split("/")[1]
    body = sum(1 for _ in itertools.takewhile(lambda k: k in marks, itertools.count(marks[0])))
    calls = [k for k in marks if trace[k].split("[", 1)[1].split("/")[1] == entry]
    return [end - start - body for start, end in zip(calls[::2], calls[1::2])]


def run_firmware(target: str, variant: Variant, model: str, call: str, rows: np.ndarray, work: Path) -> Firmware:
    """Link ``model`` calling ``call`` on each row for ``target``, run it in qemu, parse it."""
    assert np.array_equal(rows, np.clip(np.round(rows), 0, 255))
    cells = ",".join("{" + ",".join(str(int(v)) for v in r) + "}" for r in rows)
    src = (FIRMWARE.replace("@MODEL@", model).replace("@ROWS@", cells).replace("@N@", str(len(rows)))
           .replace("@CALL@", call).replace("@IN_T@", variant.in_t))
    exe = build(target, src, work, strict=variant.strict, cxx=variant.cxx, includes=variant.includes)
    size_tool = get_target(target).compiler.replace("gcc", "size")
    size = subprocess.run([size_tool, "-A", str(exe)], check=True, capture_output=True, text=True).stdout
    sec: dict[str, int] = {}
    for m in re.finditer(r"^\.(\w+)\s+(\d+)", size, re.M):
        sec[m.group(1)] = sec.get(m.group(1), 0) + int(m.group(2))
    log = work / "trace.log"
    out = execute(target, exe, trace=log)
    pred = [int(v) for v in out.split()]
    trace = log.read_text().splitlines()
    log.unlink()
    if len(pred) != len(rows):
        raise RuntimeError(f"expected {len(rows)} classes from qemu:\n{out[-1000:]}")
    return Firmware(pred, sec.get("text", 0) + sec.get("data", 0), sec.get("data", 0) + sec.get("bss", 0),
                    marked_instructions(trace))


def emlc_variants(clf, target: str) -> list[Variant]:
    """emlc's builds as the command line makes them (emlc.compile), or the error refusing one."""
    out = []
    for level, input_type in (("O2", None), ("Os", None), ("O2", "int16"), ("Os", "int16")):
        flag = f" --input {input_type}" if input_type else ""
        in_t = "int16_t" if input_type else "float"
        try:
            made = emlc.compile(clf, target=target, level=level, input_type=input_type)
        except emlc.EmlcError as e:
            out.append(Variant(f"emlc -{level}{flag}", e, "", in_t))
            continue
        out.append(Variant(f"emlc -{level}{flag} {made.layout}", made.code, "model_predict(x, 64)", in_t,
                           ir=made.ensemble))
    return out


def peers(clf) -> list[Variant]:
    """bench_avr_digits' peer code, with the language and include folders it needs."""
    return [Variant(label, code, call, in_t, cxx=lang == "c++", includes=tuple(map(str, inc)))
            for label, code, call, in_t, lang, inc, _ in peer_variants(clf)]


def _failure(e: RuntimeError) -> str:
    """The reason a build failed, in a few words."""
    text = str(e)
    if "overflow" in text or "will not fit" in text:
        return "does not link (memory overflow)"
    errors = [ln.split("error:")[-1].strip() for ln in text.splitlines() if "error:" in ln]
    return f"does not build ({(errors or text.splitlines()[:1] or ['failed'])[0][:60]})"


def measure(target: str, variants: list[Variant], classes: np.ndarray, want: np.ndarray, rows: np.ndarray,
            work: Path) -> None:
    """Build and run each variant on ``target`` and print its table."""
    tgt = get_target(target)
    bases: dict[tuple[str, bool], Firmware] = {}
    head = f"{'build (model-only flash, RAM)':44s} {'flash B':>8s} {'RAM B':>6s} {'fits':>5s}"
    print(f"{head} {'instr':>7s} {'agree':>7s} {'IR':>7s}")
    for v in variants:
        if isinstance(v.code, Exception):
            why = re.sub(r" \(.*?\)", "", str(v.code).split(";")[0])
            print(f"{v.label:44s} emlc refuses: {why}")
            continue
        key = (v.in_t, v.cxx)
        if key not in bases:
            bases[key] = run_firmware(target, v, "", EMPTY_CALL, rows, work)
        try:
            fw = run_firmware(target, v, v.code, v.call, rows, work)
        except RuntimeError as e:
            print(f"{v.label:44s} {_failure(e)}")
            continue
        base = bases[key]
        got = classes[fw.pred]
        fits = fw.flash <= tgt.flash_bytes and fw.ram <= tgt.ram_bytes
        agree = f"{np.mean(got == want) * 100:6.1f}%"
        ir = f"{np.mean(got == interpret_early_exit(v.ir, rows)) * 100:6.1f}%" if v.ir is not None else "      -"
        instr = f"{round(np.mean(fw.instructions)):8d}"
        print(f"{v.label:44s} {fw.flash - base.flash:8d} {fw.ram - base.ram:6d} {'yes' if fits else 'NO':>5s}"
              f"{instr} {agree} {ir}")
    empty = bases.get(("float", False))
    if empty is not None:
        print(f"(empty firmware: {empty.flash} B flash, {empty.ram} B RAM; {target} has {tgt.flash_bytes} / "
              f"{tgt.ram_bytes})")


def main(argv: list[str] | None = None) -> None:
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    names = [f"{t}x{d}" for t, d in FORESTS]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pick", nargs="*", metavar="FOREST|TARGET",
                    help=f"forests ({', '.join(names)}) and targets ({', '.join(TARGETS)}); default: all")
    ap.add_argument("--no-peers", action="store_true", help="emlc's builds only")
    args = ap.parse_args(argv)
    unknown = [p for p in args.pick if p not in (*names, *TARGETS)]
    if unknown:
        ap.error(f"unknown forest or target {unknown[0]!r}; choose from {', '.join([*names, *TARGETS])}")
    forests = [f for f in FORESTS if f"{f[0]}x{f[1]}" in args.pick] or list(FORESTS)
    targets = [t for t in TARGETS if t in args.pick] or list(TARGETS)

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=30, random_state=0)
    with tempfile.TemporaryDirectory(prefix="emlc-bench-mcu-") as tmp:
        for trees, depth in forests:
            clf = RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=0).fit(Xtr, ytr)
            want = clf.predict(Xte)
            others = [] if args.no_peers else peers(clf)
            for target in targets:
                print(f"\n## digits RandomForest {trees}x{depth}, {target}")
                measure(target, emlc_variants(clf, target) + others, clf.classes_, want, Xte, Path(tmp))


if __name__ == "__main__":
    main()
