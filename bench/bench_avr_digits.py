"""Digits RandomForests on a simulated ATmega2560 and ATmega328P (Arduino Uno): flash, RAM,
cycles, agreement, Pareto front.

scikit-learn digits, RandomForestClassifier(n_estimators, max_depth, random_state=0) for
10x6, 20x5 and 30x6, 30 test rows. Each variant is built into the same firmware (rows as
bytes in PROGMEM: digits pixels are integers 0..16; Timer1 without prescaler plus an
overflow counter around the 30 predictions); model size is the firmware minus an empty
firmware (avr-size: flash = text + data, RAM = data + bss). Peers (emlearn, micromlgen,
m2cgen) are measured when their packages are installed; their code is generated at run
time. -O2 adds the exact early exit (on AVR checked on the fixed-point sums); "(no exit)"
is the same build without it (the 2560's 10x6, with -O0 and forced layouts), "--early-exit
0.5" the lossy confidence exit built as the command line builds it (at -O0 and -O2; "(exit
left out)" where its checks would cost more than they save, its tables not fit or its
check would take the table walk's leaf records away, so the IR does not carry it);
"point: ..." are the build points -O2 weighs
(the fastest within --flash-budget is taken; the 2560's 10x6 only). "agree" is agreement
with scikit-learn, "IR" with the interpreter on the IR the build came from (stopping where
its early exit stops): 100% or the build is wrong. "*" marks the Pareto front of flash and
cycles among the builds that run, per input type (float features; int16 features, which
need pre-scaled inputs), whatever their agreement.

    python bench/bench_avr_digits.py [10x6|20x5|30x6] [atmega2560|atmega328p]

Last run (simavr, avr-gcc 5.4 -Os):

    ## digits RandomForest 10x6, atmega2560
    build (model-only flash, RAM; cycles/prediction)          flash B  RAM B   cycles   agree      IR  Pareto
    emlc -O0 inline                                             94356      0     1061  100.0%  100.0%
    emlc -O0 --early-exit 0.5 inline (exit left out)            94356      0     1061  100.0%  100.0%
    emlc -O0 table                                              26734      0     2398  100.0%  100.0%
    emlc -O0 --early-exit 0.5 table (exit left out)             26734      0     2398  100.0%  100.0%
    emlc -O2 inline                                             91162      0     1061  100.0%  100.0%  *
    emlc -O2 --early-exit 0.5 inline (exit left out)            91162      0     1061  100.0%  100.0%  *
    emlc -O2 table                                              25872      0     2398  100.0%  100.0%  *
    emlc -O2 --early-exit 0.5 table (exit left out)             25872      0     2398  100.0%  100.0%  *
    emlc -Os table                                               8138      0    10873  100.0%  100.0%  *
    emlc -O2 point: inline, byte-sum first walk                 91162      0     1061  100.0%  100.0%  *
    emlc -O2 point: inline, byte-sum first walk, int16 keys behind it    66444      0     1166  100.0%  100.0%  *
    emlc -O2 point: inline, leaf sums in code                   56024      0     1251  100.0%  100.0%  *
    emlc -O2 point: inline, byte-sum first walk, NaN-free tests (NaN rows: table walk)    68296      0     1353  100.0%  100.0%
    emlc -O2 point: inline, leaf sums in code, NaN-free tests (NaN rows: table walk)    44880      0     1477  100.0%  100.0%  *
    emlc -O2 point: inline, byte sums in code, leaf table behind    47138      0     1615  100.0%  100.0%
    emlc -O2 point: inline, byte sums in code, leaf table behind, NaN-free tests (NaN rows: table walk)    38452      0     1845  100.0%  100.0%  *
    emlc -O2 point: table, leaf values stored, inline head of 6 levels    25872      0     2398  100.0%  100.0%  *
    emlc -O2 point: table, leaf values stored, inline head of 5 levels    19214      0     2533  100.0%  100.0%  *
    emlc -O2 point: table, leaf values stored, inline head of 4 levels    15084      0     2682  100.0%  100.0%  *
    emlc -O2 point: table, leaf values stored, inline head of 3 levels    12724      0     2830  100.0%  100.0%  *
    emlc -O2 point: table, inline head of 6 levels              25536      0     2903  100.0%  100.0%
    emlc -O2 point: table, leaf values stored, inline head of 2 levels    11550      0     2991  100.0%  100.0%  *
    emlc -O2 point: table, inline head of 5 levels              18878      0     3038  100.0%  100.0%
    emlc -O2 point: table, leaf values stored, inline head of 1 level    10950      0     3154  100.0%  100.0%  *
    emlc -O2 point: table, inline head of 4 levels              14748      0     3187  100.0%  100.0%
    emlc -O2 point: table, leaf values stored                   10480      0     3227  100.0%  100.0%  *
    emlc -O2 point: table, inline head of 3 levels              12388      0     3335  100.0%  100.0%
    emlc -O2 point: table, inline head of 2 levels              11664      0     3632  100.0%  100.0%
    emlc -O2 point: inline, leaf table                          46510      0     3565  100.0%  100.0%
    emlc -O2 point: table, inline head of 1 level               11064      0     3765  100.0%  100.0%
    emlc -O2 point: table                                       10554      0     3786  100.0%  100.0%
    emlc -O2 --input int16 inline                               37156      0      706  100.0%  100.0%  *
    emlc -Os --input int16 table                                 7794      0    10097  100.0%  100.0%  *
    emlearn inline (float features)                             17958      0     5252   96.7%       -
    emlearn inline (int16 features)                              8700      0     1560   83.3%       -  *
    emlearn loadable (int16 features)                            6334   3710    11573   83.3%       -  *
    micromlgen (float)                                          15188      1     5366   96.7%       -
    m2cgen (float)                                           does not build (RAM overflow)

    ## digits RandomForest 10x6, atmega328p
    build (model-only flash, RAM; cycles/prediction)          flash B  RAM B   cycles   agree      IR  Pareto
    emlc -O0 table                                              15358      0     2668  100.0%  100.0%
    emlc -O0 --early-exit 0.5 table (exit left out)             15358      0     2668  100.0%  100.0%
    emlc -O2 table                                              15350      0     2634  100.0%  100.0%  *
    emlc -O2 --early-exit 0.5 table (exit left out)             15350      0     2634  100.0%  100.0%  *
    emlc -Os table                                               8138      0    10853  100.0%  100.0%  *
    emlc -O2 --input int16 table                                15488      0     2509  100.0%  100.0%
    emlc -Os --input int16 table                                 7794      0    10077  100.0%  100.0%  *
    emlearn inline (float features)                             17958      0     4997   96.7%       -
    emlearn inline (int16 features)                              8700      0     1538   83.3%       -  *
    emlearn loadable (int16 features)                        does not build (RAM overflow)
    micromlgen (float)                                          15188      1     5073   96.7%       -  *
    m2cgen (float)                                           does not build (RAM overflow)

    ## digits RandomForest 20x5, atmega2560
    build (model-only flash, RAM; cycles/prediction)          flash B  RAM B   cycles   agree      IR  Pareto
    emlc -O0 inline                                            119200      0     1955  100.0%  100.0%
    emlc -O0 --early-exit 0.5 inline (exit left out)           119200      0     1955  100.0%  100.0%
    emlc -O2 inline                                            117278      0     1954  100.0%  100.0%  *
    emlc -O2 --early-exit 0.5 inline (exit left out)           117278      0     1954  100.0%  100.0%  *
    emlc -Os table                                              10038      0    19998  100.0%  100.0%  *
    emlc -O2 --input int16 inline                               52760      0     1256  100.0%  100.0%  *
    emlc -Os --input int16 table                                 9676      0    18703  100.0%  100.0%
    emlearn inline (float features)                             23488      0     8748  100.0%       -
    emlearn inline (int16 features)                             11660      0     2369   93.3%       -  *
    emlearn loadable (int16 features)                            6956   4332    16823   93.3%       -  *
    micromlgen (float)                                          18394      1     8301  100.0%       -  *
    m2cgen (float)                                           does not build (RAM overflow)

    ## digits RandomForest 20x5, atmega328p
    build (model-only flash, RAM; cycles/prediction)          flash B  RAM B   cycles   agree      IR  Pareto
    emlc -O0 table                                              15528      0     5288  100.0%  100.0%  *
    emlc -O0 --early-exit 0.5 table (exit left out)             15528      0     5288  100.0%  100.0%  *
    emlc -O2 table (exact exit)                                 15902      0     5045  100.0%  100.0%  *
    emlc -O2 --early-exit 0.5 table (exit left out)             15902      0     5045  100.0%  100.0%  *
    emlc -Os table                                              10038      0    19958  100.0%  100.0%  *
    emlc -O2 --input int16 table                                16058      0     4718  100.0%  100.0%
    emlc -Os --input int16 table                                 9676      0    18663  100.0%  100.0%  *
    emlearn inline (float features)                             23488      0     8312  100.0%       -
    emlearn inline (int16 features)                             11660      0     2327   93.3%       -  *
    emlearn loadable (int16 features)                        does not build (RAM overflow)
    micromlgen (float)                                          18394      1     7846  100.0%       -
    m2cgen (float)                                           does not build (RAM overflow)

    ## digits RandomForest 30x6, atmega2560
    build (model-only flash, RAM; cycles/prediction)          flash B  RAM B   cycles   agree      IR  Pareto
    emlc -O0 inline                                            110442      0     5576  100.0%  100.0%  *
    emlc -O0 --early-exit 0.5 inline (exit left out)           110442      0     5576  100.0%  100.0%  *
    emlc -O2 inline                                            102954      0     5581  100.0%  100.0%  *
    emlc -O2 --early-exit 0.5 inline (exit left out)           102954      0     5581  100.0%  100.0%  *
    emlc -Os table                                              18818      0    36387  100.0%  100.0%  *
    emlc -O2 --input int16 inline                               76726      0     2582  100.0%  100.0%  *
    emlc -Os --input int16 table                                16890      0    29149  100.0%  100.0%  *
    emlearn inline (float features)                             52902      0    14743  100.0%       -
    emlearn inline (int16 features)                             24826      0     3596   96.7%       -  *
    emlearn loadable (int16 features)                        does not build (RAM overflow)
    micromlgen (float)                                          45566      1    13591  100.0%       -  *
    m2cgen (float)                                           does not build (total size of local objects too large)

    ## digits RandomForest 30x6, atmega328p
    build (model-only flash, RAM; cycles/prediction)          flash B  RAM B   cycles   agree      IR  Pareto
    emlc -O0 table                                              24422      0    10546  100.0%  100.0%
    emlc -O0 --early-exit 0.5 table (exit left out)             24422      0    10546  100.0%  100.0%
    emlc -O2 table (exact exit)                                 21494      0     8666  100.0%  100.0%  *
    emlc -O2 --early-exit 0.5 table (exit left out)             21494      0     8666  100.0%  100.0%  *
    emlc -Os table                                              18818      0    36327  100.0%  100.0%  *
    emlc -O2 --input int16 table                                19346      0     8354  100.0%  100.0%  *
    emlc -Os --input int16 table                                16890      0    29089  100.0%  100.0%  *
    emlearn inline (float features)                          does not build (flash overflow)
    emlearn inline (int16 features)                             24826      0     3534   96.7%       -  *
    emlearn loadable (int16 features)                        does not build (RAM overflow)
    micromlgen (float)                                       does not build (flash overflow)
    m2cgen (float)                                           does not build (total size of local objects too large)

On the 328P (32 KB) -O2 takes the table layout (inline code would pass half the flash);
with --input int16 its records hold the int16 threshold (walk_halves: one compare a
node, the byte alone where every threshold shares the high one, no step before a left
leaf; behind an inline head as float builds), which took 10x6 10,798 B / 5,054 cycles,
20x5 12,638 / 9,929 and 30x6 20,538 / 14,004 on the slot records before (with leaf
records; 11,394 / 5,593, 15,274 / 10,466 and 24,824 / 14,458 before those). On the 328P
emlearn's and micromlgen's float code do not fit the 30x6 forest, nor do m2cgen's
doubles (RAM) or emlearn's loadable tables (RAM) anywhere but the 2560.

-Os tables: decision records only, packed in 16-bit words with an index into all
thresholds (walk_table's counted encoding), instead of leaf records (measured before the
merge of main's plan-based backend, which moved 20x5 and 30x6 by under 1%): 10x6 12,688 B /
8,640 cycles -> 12,546 B / 9,975 cycles, 20x5 16,368 / 15,830 -> 15,978 / 17,966, 30x6
26,598 / 25,301 -> 26,496 / 25,929 (forest leaf rows are shared after dedup_leaves, so
a leaf-row map remains; boosted models, a row per leaf, need none: XGBoost 60x5 node
tables 8.95 -> 5.31 B per decision node). Then keys stored without the top byte each
feature's sorted keys share in runs, where that saves more than its lookup's code: XGBoost
60x5 4.83 B per decision node, 30x6 -Os 26,614 B / 26,144 cycles -> 26,314 / 34,136 (the
scan for a key's run costs cycles), 10x6 unchanged (it would save less than the code).

Every emlc build carries the binary64 step for float64 near-ties (c_soft64: 3.9-5 KB; 2.7-2.8 KB
in the -O2 table builds over leaf records);
before it, -O2 inline was 87,460 B and -Os table 8,930 B / 8,654 cycles.

The -O2 inline build has no exact exit: on AVR inline walks the checks cost more than the
trees they could skip (the backend's cost rule drops them); the table layout keeps one.
Its first walk adds byte sums and decides 29 of the 30 rows; the other goes on to the
16-bit walk that records leaf rows. A lossy exit is left out there: its checks on the
16-bit walk's sums (the byte sums are too coarse to decide them: 45% of digits rows would
fall into their band) took 1,362 cycles against 1,061 (10x6, 5.5 of 10 trees evaluated).
The AVR table layout leaves it out too: its band check reads the sparse leaf tables that
the leaf records replace (it was 17,484 B / 4,131 cycles on 10x6, where the records alone
now take 10,526 / 3,846); its exact exit checks only where the rows a check stops pay for
it (cost.exact_exit_interval: none on 10x6, one check after tree 14 on 20x5). Bigger digits forests, -O2 inline, float / int16
cycles before and after that rule and the first walk: 20x5 2,665 / 2,200 -> 1,954 /
1,256; 30x6 4,210 / 3,660 -> 3,654 / 2,582 (inline forced; -O2 now takes the table there,
the inline estimate passing half the 2560's flash; int16 with a first walk 1,883); 50x5
7,685 / 6,920 -> 5,213 / 3,926 (bytes too coarse for 50 trees: no first walk).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import emlc  # noqa: E402
from emlc.backends.c import choose, emit_c, header  # noqa: E402
from emlc.passes import optimize  # noqa: E402
from emlc.ir.interpret import interpret_early_exit  # noqa: E402
from emlc.passes.lossy.apply import apply_lossy  # noqa: E402
from emlc.targets import get_target  # noqa: E402
from emlc.api import exact_c_layout  # noqa: E402
from emlc.cost import FlashBudget  # noqa: E402

#: simulated MCU -> emlc target
MCUS = {"atmega2560": "avr", "atmega328p": "atmega328p"}
#: (trees, depth) of the digits forests
FORESTS = ((10, 6), (20, 5), (30, 6))
LANG = {"c": ("avr-gcc", "fw.c", ["-std=gnu99"]), "c++": ("avr-g++", "fw.cpp", ["-std=gnu++11"])}
PEERS = ("emlearn", "m2cgen", "micromlgen")
PEER_DIR = Path(tempfile.gettempdir()) / "emlc-bench-peers"

FIRMWARE = r"""
#include <stdint.h>
#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/pgmspace.h>
#include <avr/sleep.h>
@MODEL@
static const uint8_t rows[@N@][64] PROGMEM = { @ROWS@ };
static volatile uint16_t overflows;
ISR(TIMER1_OVF_vect) { ++overflows; }
static void put(char c) { loop_until_bit_is_set(UCSR0A, UDRE0); UDR0 = (uint8_t)c; }
static void put_u32(uint32_t v) { char d[11]; int k = 0; do { d[k++] = (char)('0' + v % 10); v /= 10; } while (v); while (k) put(d[--k]); }
int main(void) {
    static @IN_T@ x[64];
    static int16_t pred[@N@];
    uint8_t r, j;
    uint32_t cycles = 0;
    UCSR0B = (uint8_t)(1 << TXEN0);
    TIMSK1 = (uint8_t)(1 << TOIE1);
    sei();
    for (r = 0; r < @N@; ++r) {
        uint16_t t0, t1, o0, o1;
        for (j = 0; j < 64; ++j) x[j] = (@IN_T@)pgm_read_byte(&rows[r][j]);
        cli(); o0 = overflows; t0 = TCNT1; TCCR1B = 1; sei();
        pred[r] = (int16_t)(@CALL@);
        cli(); t1 = TCNT1; o1 = overflows;
        if ((TIFR1 & (1 << TOV1)) && t1 < 0x8000u) ++o1;
        TCCR1B = 0; sei();
        cycles += ((uint32_t)(o1 - o0) << 16) + (uint16_t)(t1 - t0);
    }
    for (r = 0; r < @N@; ++r) { put_u32((uint32_t)pred[r]); put(' '); }
    put('c'); put_u32(cycles / @N@); put('\n');
    cli(); sleep_enable(); sleep_cpu();
    return 0;
}
"""


def build_and_run(model_code: str, call: str, rows: np.ndarray, in_t: str, work: Path, lang: str = "c",
                  includes: tuple[str, ...] = (), mcu: str = "atmega2560") -> tuple[list[int], int, int, int]:
    # digits pixels are integers 0..16: bytes in flash (30 float rows would take 7.7 KB of the 328P's 32 KB)
    assert np.array_equal(rows, np.clip(np.round(rows), 0, 255))
    cells = ",".join("{" + ",".join(str(int(v)) for v in r) + "}" for r in rows)
    src = (FIRMWARE.replace("@MODEL@", model_code).replace("@ROWS@", cells).replace("@N@", str(len(rows)))
           .replace("@CALL@", call).replace("@IN_T@", in_t))
    cc, name, std = LANG[lang]
    (work / name).write_text(src)
    inc = [f"-I{d}" for d in includes]
    subprocess.run([cc, f"-mmcu={mcu}", "-Os", "-Wall", *std, *inc, name, "-o", "fw.elf"], cwd=work, check=True,
                   capture_output=True)
    size = subprocess.run(["avr-size", "-A", "fw.elf"], cwd=work, check=True, capture_output=True, text=True).stdout
    sec = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\.(\w+)\s+(\d+)", size, re.M)}
    flash = sec.get("text", 0) + sec.get("data", 0)
    ram = sec.get("data", 0) + sec.get("bss", 0)
    out = subprocess.run(["simavr", "-m", mcu, "-f", "16000000", "fw.elf"], cwd=work, capture_output=True,
                         text=True, timeout=300)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    m = re.search(r"((?:\d+ )+)c(\d+)", text.replace(".\n", "").replace("\n", ""))
    if not m:
        raise RuntimeError(f"no result from simavr:\n{text[-1000:]}")
    return [int(v) for v in m.group(1).split()], flash, ram, int(m.group(2))


def _import_peers() -> dict[str, object]:
    """The peer packages, pip-installed into a temporary folder when missing (not test dependencies)."""
    import importlib

    missing = [n for n in PEERS if importlib.util.find_spec(n) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(PEER_DIR), *missing],
                       check=False, capture_output=True)
        sys.path.append(str(PEER_DIR))
    mods = {}
    for n in PEERS:
        try:
            mods[n] = importlib.import_module(n)
        except ImportError:
            print(f"(peer {n} not installable here; skipped)")
    return mods


def peer_variants(clf) -> list[tuple]:
    """(label, code, call, input C type, language, include dirs, None), generated now, never committed."""
    mods = _import_peers()
    out: list[tuple] = []
    if "emlearn" in mods:
        emlearn = mods["emlearn"]
        for method, dtype, in_t in (("inline", "float", "float"), ("inline", "int16_t", "int16_t"),
                                    ("loadable", "int16_t", "int16_t")):
            code = emlearn.convert(clf, method=method, dtype=dtype).save(name="peer", format="c")
            kind = "float" if dtype == "float" else "int16"
            out.append((f"emlearn {method} ({kind} features)", code, "peer_predict(x, 64)", in_t, "c",
                        (emlearn.includedir,), None))
    if "micromlgen" in mods:
        code = mods["micromlgen"].port(clf).replace("#include <cstdarg>", "#include <stdarg.h>")
        code += "\nstatic Eloquent::ML::Port::RandomForest peer;\n"
        out.append(("micromlgen (float)", code, "peer.predict(x)", "float", "c++", (), None))
    if "m2cgen" in mods:
        code = mods["m2cgen"].export_to_c(clf)
        # the float rows widened to m2cgen's double (the same type on AVR, 64-bit on 32-bit MCUs)
        code += (
            "\nstatic int peer_predict(float *x)\n{\n    double in[64], out[10];\n    int k, best = 0;\n"
            "    for (k = 0; k < 64; ++k) in[k] = x[k];\n"
            "    score(in, out);\n    for (k = 1; k < 10; ++k) if (out[k] > out[best]) best = k;\n"
            "    return best;\n}\n"
        )
        out.append(("m2cgen (float)", code, "peer_predict(x)", "float", "c", (), None))
    return out


def emlc_variants(ens, target: str, full: bool) -> list[tuple]:
    """(label, code or the EmlcError that refused it, call, input C type, language, include
    dirs, the IR it was built from)."""
    out: list[tuple] = []

    def add(label, make, in_t="float"):
        try:
            ir, code = make()
        except emlc.EmlcError as e:
            ir, code = None, e
        out.append((label, code, "model_predict(x, 64)", in_t, "c", (), ir))

    def build(ir, layout, speed):
        return ir, emit_c(ir, target, "model", layout, speed=speed)

    runs = [("O0", "inline"), ("O0", "table"), ("O2", "inline"), ("O2", "table"), ("Os", None)] if full else \
        [("O0", None), ("O2", None), ("Os", None)]
    for level, layout in runs:
        res = optimize(ens, level=level, target=target, layout=layout)
        speed = level != "Os"
        try:  # as the command line builds it: the backend picks the layout unless the run forces one
            made = header(res.ensemble, target, "model", layout, speed=speed)
        except emlc.EmlcError as e:
            out.append((f"emlc -{level} {layout or res.layout}", e, "", "float", "c", (), None))
            continue
        code, chosen = made.code, made.choice.chosen.point.layout.value
        exit_note = " (exact exit)" if "predict stops early" in code else ""
        out.append((f"emlc -{level} {chosen}{exit_note}", code, "model_predict(x, 64)", "float", "c", (),
                    res.ensemble))
        if exit_note and full:
            plain = res.ensemble.replace(early_exit=None)
            add(f"emlc -{level} {chosen} (no exit)", lambda: build(plain, chosen, speed))
        if speed:  # the lossy exit as the command line builds it (--early-exit 0.5)
            measured_in = layout or exact_c_layout(ens, get_target(target), level, "c", False, FlashBudget())
            lossy, report = apply_lossy(ens, early_exit=0.5, level=level, target=target, layout=measured_in)
            left = " (exit left out)" if any("early exit left out" in n for n in report.notes) else ""
            add(f"emlc -{level} --early-exit 0.5 {report.layout}{left}", lambda: build(lossy, report.layout, speed))
    if full:  # every build point -O2 weighs (emlc/backends/c/points.py), as --flash-budget picks them
        res = optimize(ens, level="O2", target=target)
        for cost in choose(res.ensemble, get_target(target), None, speed=True).costs:
            add(f"emlc -O2 point: {cost.point.label()}",
                lambda: (res.ensemble, emit_c(res.ensemble, target, "model", point=cost.point)))
    for level in ("O2", "Os"):
        res = optimize(ens.replace(input_type="int16"), level=level, target=target)
        add(f"emlc -{level} --input int16 {res.layout}",
            lambda: build(res.ensemble, res.layout, level != "Os"), "int16_t")
    return out


def pareto(points: dict[str, tuple[int, int]]) -> set[str]:
    """Labels no other point beats on flash and cycles together (<= both, < one)."""
    return {a for a, (fa, ca) in points.items()
            if not any(fb <= fa and cb <= ca and (fb, cb) != (fa, ca) for b, (fb, cb) in points.items() if b != a)}


def measure(variants: list[tuple], ens, want: np.ndarray, rows: np.ndarray, mcu: str, work: Path,
            bases: dict) -> None:
    """Build and run each variant on ``mcu``; print the table with the Pareto front (per input
    type). "IR" is the agreement with the interpreter on the IR an emlc build came from (with
    an early exit, where that stops): 100% or the build is wrong."""
    results: list[tuple] = []
    for label, code, call, in_t, lang, inc, ir in variants:
        if isinstance(code, Exception):
            results.append((label, in_t, None, f"emlc refuses: {str(code).split(';')[0][:60]}"))
            continue
        try:
            pred, flash, ram, cycles = build_and_run(code, call, rows, in_t, work, lang, inc, mcu)
        except subprocess.CalledProcessError as e:
            err = (e.stderr or b"").decode().strip()
            errors = [ln for ln in err.splitlines() if "error" in ln] or err.splitlines() or ["failed"]
            why = ("RAM overflow" if "region `data'" in err else "flash overflow" if "region `text'" in err
                   else errors[0].split("error:")[-1].strip()[:60])
            results.append((label, in_t, None, f"does not build ({why})"))
            continue
        got = np.asarray(ens.classes)[pred]
        agree = float(np.mean(got == want) * 100)
        oracle = None
        if ir is not None:
            oracle = float(np.mean(got == interpret_early_exit(ir, rows)) * 100)
        base_flash, base_ram = bases[mcu, lang, in_t]
        results.append((label, in_t, (flash - base_flash, ram - base_ram, cycles, agree, oracle), ""))
    front: set[str] = set()
    for kind in ("float", "int16_t"):
        front |= pareto({label: (m[0], m[2]) for label, in_t, m, _ in results if m is not None and in_t == kind})
    print(f"{'build (model-only flash, RAM; cycles/prediction)':56s} {'flash B':>8s} {'RAM B':>6s} {'cycles':>8s} "
          f"{'agree':>7s} {'IR':>7s}  Pareto")
    for label, _, m, note in results:
        if m is None:
            print(f"{label:56s} {note}")
        else:
            mark = "*" if label in front else ""
            ir = f"{m[4]:6.1f}%" if m[4] is not None else "      -"
            print(f"{label:56s} {m[0]:8d} {m[1]:6d} {m[2]:8d} {m[3]:6.1f}% {ir}  {mark}".rstrip())


def main() -> None:
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=30, random_state=0)
    only = sys.argv[1:]  # e.g. "10x6 atmega328p"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bases = {(mcu, lang, t): build_and_run("", "(int)x[0]", Xte, t, work, lang, (), mcu)[1:3]
                 for mcu in MCUS for lang in LANG for t in ("float", "int16_t")}
        for trees, depth in FORESTS:
            if only and not any(f"{trees}x{depth}" == o for o in only if "x" in o):
                if any("x" in o for o in only):
                    continue
            clf = RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=0).fit(Xtr, ytr)
            want = clf.predict(Xte)
            ens = emlc.load(clf)
            peers = peer_variants(clf)
            for mcu, target in MCUS.items():
                if only and any(o in MCUS for o in only) and mcu not in only:
                    continue
                print(f"\n## digits RandomForest {trees}x{depth}, {mcu}")
                full = (trees, depth) == (10, 6) and mcu == "atmega2560"
                measure(emlc_variants(ens, target, full) + peers, ens, want, Xte, mcu, work, bases)


if __name__ == "__main__":
    main()
