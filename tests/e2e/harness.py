"""Build a test program around an emitted header, run it on a target, read predictions.

The program embeds the rows (as exact bit patterns, in flash), calls ``P_predict`` and
``P_predict_proba``/``P_predict_values`` for each, and prints one line per row:
``<predict> <out bits>...`` with floats as hex bit patterns, so nothing is lost in
printing. The platform part (UART / semihosting, start-up, exit) lives in a separate
file compiled without ``-pedantic``; the file including the header gets the strict flags.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emlc.api import declare_for_target
from emlc.backends.c import emit_c
from emlc.targets import get_target
from emlc.ir.ensemble import Ensemble, Task

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Os"]
TIMEOUT = 120

#: external programs each target needs (for require_tool)
TOOLS = {
    "host": ("gcc",),
    "avr": ("avr-gcc", "simavr"),
    "cortex-m0": ("arm-none-eabi-gcc", "qemu-system-arm"),
    "cortex-m4f": ("arm-none-eabi-gcc", "qemu-system-arm"),
    "rv32ec": ("riscv64-unknown-elf-gcc", "qemu-system-riscv32"),
    "mcs51": ("sdcc", "s51"),
}

_HOST_PLATFORM = r"""
#include <stdio.h>
void run_all(void);
void out_char(char c) { putchar(c); }
void out_done(void) { fflush(stdout); }
int main(void) { run_all(); return 0; }
"""

_AVR_PLATFORM = r"""
#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/sleep.h>
void run_all(void);
void out_char(char c) {
    loop_until_bit_is_set(UCSR0A, UDRE0);
    UDR0 = (uint8_t)c;
}
void out_done(void) {
    loop_until_bit_is_set(UCSR0A, UDRE0);
    cli();
    sleep_enable();
    sleep_cpu();
}
int main(void) {
    UCSR0B = (uint8_t)(1 << TXEN0);
    run_all();
    out_done();
    return 0;
}
"""

_ARM_PLATFORM = r"""
#include <stdint.h>
void run_all(void);
extern uint32_t _stack_top, _bss_start, _bss_end;
static char line[256];
static unsigned used;
static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
void out_char(char c) {
    line[used++] = c;
    if (c == '\n' || used == sizeof line - 1) {
        line[used] = 0;
        semihost(0x04, line);
        used = 0;
    }
}
void out_done(void) {
    semihost(0x18, (const void *)0x20026);
    for (;;) {}
}
void reset_handler(void) {
    uint32_t *p;
#ifdef ENABLE_FPU
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb");
#endif
    for (p = &_bss_start; p < &_bss_end; ++p) *p = 0;
    run_all();
    out_done();
}
__attribute__((section(".vectors"), used))
void *const vectors[2] = { &_stack_top, (void *)reset_handler };
"""

_ARM_LD = """
MEMORY { FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 256K
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 16K }
SECTIONS {
  .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } > FLASH
  .bss (NOLOAD) : { _bss_start = .; *(.bss*) *(COMMON) . = ALIGN(4); _bss_end = .; } > RAM
  .data : { *(.data*) } > RAM
  _stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"""

_RV_PLATFORM = r"""
#include <stdint.h>
void run_all(void);
__asm__(".section .text.start\n.globl _start\n_start:\n la sp, _stack_top\n call rv_main\n1: j 1b\n");
void out_char(char c) { *(volatile uint8_t *)0x10000000u = (uint8_t)c; }
void out_done(void) {
    *(volatile uint32_t *)0x100000u = 0x5555u;
    for (;;) {}
}
void rv_main(void) { run_all(); out_done(); }
"""

_RV_LD = """
ENTRY(_start)
MEMORY { RAM (rwx) : ORIGIN = 0x80000000, LENGTH = 1M }
SECTIONS {
  .text : { *(.text.start) *(.text*) *(.rodata*) *(.srodata*) } > RAM
  .data : { *(.data*) *(.sdata*) } > RAM
  .bss : { *(.bss*) *(.sbss*) *(COMMON) } > RAM
  _stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"""


# 8051 under s51: output and the final stop go through ucsim's simulator interface
# (a byte in XRAM: 'p' then a character prints it, 's' stops; s51 -G then quits).
_MCS51_PLATFORM = r"""
#include <stdint.h>
#define SIMIF (*(volatile __xdata uint8_t *)0xFFFF)
void run_all(void);
void out_char(char c) {
    SIMIF = 'p';
    SIMIF = (uint8_t)c;
}
void out_done(void) {
    SIMIF = 's';
    for (;;) {}
}
int main(void) {
    run_all();
    out_done();
    return 0;
}
"""


@dataclass(frozen=True)
class Result:
    """Per row: what predict returned and what predict_proba/predict_values wrote."""

    predict: np.ndarray
    values: np.ndarray


def _row_storage(ens: Ensemble, target_name: str) -> tuple[str, str, np.ndarray]:
    """(C element type of the embedded rows, conversion to the input type, the elements)."""
    inp = ens.input_type
    if inp == "float64":  # only on targets with a 64-bit double (emit_c refuses others)
        return "uint64_t", "double", None  # type: ignore[return-value]
    if inp.startswith("float"):
        return "uint32_t", "float", None  # type: ignore[return-value]
    return f"{inp}_t", inp + "_t", None  # type: ignore[return-value]


def program(ens: Ensemble, header: str, X: np.ndarray, target_name: str, name: str = "model") -> str:
    """The strict C file: embedded rows and the printing loop."""
    tgt = get_target(target_name)
    elem, in_t, _ = _row_storage(ens, target_name)
    X = np.asarray(X)
    if elem == "uint64_t":
        cells = [f"UINT64_C(0x{v:016x})" for v in X.astype(np.float64).view(np.uint64).ravel()]
    elif elem == "uint32_t":
        cells = [f"0x{v:08x}UL" for v in X.astype(np.float32).view(np.uint32).ravel()]
    else:
        cells = [str(int(v)) if int(v) > -32768 else f"({int(v) + 1}L - 1)" for v in X.ravel()]
    n, f = X.shape
    flash = tgt.flash
    if flash.direct:
        read = "rows[i]"
    else:
        size = {"uint64_t": 8, "uint32_t": 4}.get(elem, np.dtype(ens.input_type).itemsize)
        read = f"({elem}){dict(flash.reads)[size]}(&rows[i])"
    if elem.startswith("uint") and in_t in ("float", "double"):
        convert = f"    union {{ {elem} u; {in_t} x; }} b;\n    b.u = {read};\n    return b.x;"
    else:
        convert = f"    return ({in_t}){read};"
    classifier = ens.task in (Task.CLASSIFICATION, Task.ANOMALY)
    n_vals = (2 if ens.n_outputs == 1 else ens.n_outputs) if ens.task is Task.CLASSIFICATION else ens.n_outputs
    vfn = "predict_proba" if ens.task is Task.CLASSIFICATION else "predict_values"
    pred = (
        f"put_int({name}_predict(buf, {f}));"
        if classifier
        else f"{{ float y = {name}_predict(buf, {f}); put_float(y); }}"
    )
    body = ",\n    ".join(", ".join(cells[i : i + 8]) for i in range(0, len(cells), 8))
    return f"""{header}
void out_char(char c);
void out_done(void);
void run_all(void);

static const {flash.qualifier}{elem} rows[{n * f}]{flash.attribute} = {{
    {body}
}};

static {in_t} cell(uint32_t i)
{{
{convert}
}}

static inline void put_hex(uint32_t v)
{{
    int s;
    for (s = 28; s >= 0; s -= 4) {{
        out_char("0123456789abcdef"[(v >> s) & 15u]);
    }}
}}

static inline void put_int(int32_t v)
{{
    char d[12];
    int k = 0;
    uint32_t u = v < 0 ? (uint32_t)(-(v + 1)) + 1u : (uint32_t)v;
    if (v < 0) {{
        out_char('-');
    }}
    do {{
        d[k++] = (char)('0' + u % 10u);
        u /= 10u;
    }} while (u);
    while (k) {{
        out_char(d[--k]);
    }}
}}

static inline void put_float(float y)
{{
    union {{ float f; uint32_t u; }} b;
    b.f = y;
    put_hex(b.u);
}}

void run_all(void)
{{
    {in_t} buf[{f}];
    float out[{n_vals}];
    uint32_t r, j;
    int32_t got, k;
    for (r = 0; r < {n}u; ++r) {{
        for (j = 0; j < {f}u; ++j) {{
            buf[j] = cell(r * {f}u + j);
        }}
        {pred}
        got = {name}_{vfn}(buf, {f}, out, {n_vals});
        for (k = 0; k < got; ++k) {{
            out_char(' ');
            put_float(out[k]);
        }}
        out_char('\\n');
    }}
    out_done();
}}
"""


def _run(cmd: list[str], cwd: Path, timeout: int = TIMEOUT) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return res


def _check(res: subprocess.CompletedProcess, what: str) -> None:
    if res.returncode != 0:
        raise RuntimeError(f"{what} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")


#: the strict C99 and warnings as errors that only emlc's own C is held to (other code: GNU C)
_STRICT_ONLY = ("-std=c99", "-Wextra", "-Werror", "-pedantic")


def build(target_name: str, main_c: str, work: Path, objects: tuple[Path, ...] = (), *, strict: bool = True,
          cxx: bool = False, includes: tuple[str, ...] = ()) -> Path:
    """Compile the strict main file plus the target's platform file; return the executable.

    ``objects``: extra object files linked after ``main.o`` (with libm), e.g. LLVM output.
    The host always links libm: its headers' links call the C library's exp.
    ``strict=False`` drops the warnings-as-errors and ``-pedantic`` (GNU C99, or GNU C++11
    with ``cxx``, for other libraries' generated code), keeping the target's code flags;
    ``includes``: header folders for the main file.
    """
    linked = ["main.o", *map(str, objects)]
    libm = ["-lm"] if objects or target_name == "host" else []
    tgt = get_target(target_name)
    cc = tgt.compiler
    cflags = list(tgt.cflags) + [f"-I{d}" for d in includes]
    if not strict:
        gnu = "-std=gnu++11" if cxx else "-std=gnu99"
        cflags = [gnu if f == "-std=c99" else f for f in cflags if f not in _STRICT_ONLY[1:]]
    main = "main.cpp" if cxx else "main.c"
    (work / main).write_text(main_c)
    if cxx:
        if not cc.endswith("gcc"):
            raise ValueError(f"{cc} compiles no C++")
        cc = cc.replace("gcc", "g++")
        cflags += ["-fno-exceptions", "-fno-rtti"]
    if target_name == "host":
        (work / "platform.c").write_text(_HOST_PLATFORM)
        out = work / "prog"
        _check(_run([cc, *cflags, "-c", main, "-o", "main.o"], work), "compile")
        _check(_run([tgt.compiler, "-O2", "-c", "platform.c", "-o", "platform.o"], work), "compile platform")
        _check(_run([tgt.compiler, *linked, "platform.o", "-o", str(out), *libm], work), "link")
        return out
    if tgt.compiler == "sdcc":
        (work / "platform.c").write_text(_MCS51_PLATFORM)
        _check(_run([cc, *cflags, "-c", main], work, timeout=600), "compile")
        _check(_run([cc, *cflags, "platform.c", "main.rel", "-o", "fw.ihx"], work), "link")
        return work / "fw.ihx"
    if tgt.compiler == "avr-gcc":
        (work / "platform.c").write_text(_AVR_PLATFORM)
        link: list[str] = []
        extra: list[str] = []
    elif tgt.compiler == "arm-none-eabi-gcc":
        (work / "platform.c").write_text(_ARM_PLATFORM)
        (work / "link.ld").write_text(_ARM_LD)
        extra = ["-DENABLE_FPU"] if tgt.has_fpu else []
        link = ["-nostartfiles", "--specs=nano.specs", "-T", "link.ld", "-Wl,--gc-sections"]
    else:
        (work / "platform.c").write_text(_RV_PLATFORM)
        (work / "link.ld").write_text(_RV_LD)
        extra = []
        link = ["-nostartfiles", "-T", "link.ld", "-Wl,--gc-sections"]
        cflags.insert(0, "--specs=picolibc.specs")
    arch = [f for f in cflags if f.startswith(("-m", "--"))]
    _check(_run([cc, *cflags, "-ffunction-sections", "-fdata-sections", "-c", main, "-o", "main.o"], work), "compile")
    _check(_run([tgt.compiler, *arch, *extra, "-Os", "-c", "platform.c", "-o", "platform.o"], work),
           "compile platform")
    out = work / "fw.elf"
    _check(_run([tgt.compiler, *arch, *link, *linked, "platform.o", "-o", str(out), *libm, "-lgcc"], work), "link")
    return out


def execute(target_name: str, exe: Path, trace: Path | None = None) -> str:
    """Run the program on the target (natively or in its simulator) and return its output.
    ``trace`` (qemu targets): the file qemu logs every executed instruction to, one
    "Trace" line each, ending in its function's name (one instruction a translation
    block, no chaining between them, so none is executed unlogged)."""
    cwd = exe.parent
    clock = ["-singlestep", "-d", "exec,nochain", "-D", str(trace)] if trace else []
    if target_name == "host":
        res = _run([str(exe)], cwd)
        _check(res, "run")
        return res.stdout
    if target_name in ("avr", "atmega328p"):
        mcu = "atmega2560" if target_name == "avr" else "atmega328p"
        res = _run(["simavr", "-m", mcu, "-f", "16000000", str(exe)], cwd)
        return _simavr_text(res.stdout + res.stderr)
    if target_name == "mcs51":
        # s51 reads commands from stdin and quits at its end, simulation or not: give it a
        # pipe that stays open until it stops (-G) instead of an empty stdin, which ended
        # runs longer than a few hundred milliseconds of host time part way
        read_end, write_end = os.pipe()
        try:
            res = subprocess.run(["s51", "-t", "8052", "-I", "if=xram[0xffff]", "-G", str(exe)], cwd=cwd,
                                 capture_output=True, text=True, timeout=TIMEOUT, stdin=read_end)
        finally:
            os.close(read_end)
            os.close(write_end)
        _check(res, "s51")
        return res.stdout.split(" words read from ", 1)[-1].split("\n", 1)[-1]
    if target_name.startswith("cortex"):
        board = "microbit" if target_name == "cortex-m0" else "mps2-an386"
        res = _run(["qemu-system-arm", "-M", board, *clock, "-nographic", "-monitor", "none", "-serial", "none",
                    "-semihosting-config", "enable=on,target=native", "-kernel", str(exe)], cwd)
        _check(res, "qemu")
        return res.stdout + res.stderr
    res = _run(["qemu-system-riscv32", "-M", "virt", *clock, "-bios", "none", "-nographic", "-monitor", "none",
                "-serial", "stdio", "-kernel", str(exe)], cwd)
    _check(res, "qemu")
    return res.stdout


def _simavr_text(text: str) -> str:
    """simavr echoes UART lines with colour codes and a prefix; keep the payload lines."""
    import re

    out = []
    for line in text.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip(".")
        m = re.match(r"^(?:.*?uart\w*:\s*)?([-0-9a-f].*)$", line.strip())
        if m and re.fullmatch(r"-?\d+( [0-9a-f]{8})*|[0-9a-f]{8}( [0-9a-f]{8})*", m.group(1).strip()):
            out.append(m.group(1).strip())
    return "\n".join(out) + "\n"


def parse(ens: Ensemble, text: str, n_rows: int) -> Result:
    lines = [ln for ln in text.replace("\r", "").splitlines() if ln.strip()]
    if len(lines) != n_rows:
        raise RuntimeError(f"expected {n_rows} output lines, got {len(lines)}:\n{text[-2000:]}")
    preds, vals = [], []
    for ln in lines:
        first, *rest = ln.split()
        if ens.task in (Task.CLASSIFICATION, Task.ANOMALY):
            preds.append(int(first))
        else:
            preds.append(np.array(int(first, 16), dtype=np.uint32).view(np.float32))
        vals.append([np.array(int(v, 16), dtype=np.uint32).view(np.float32) for v in rest])
    return Result(np.array(preds), np.array(vals, dtype=np.float32))


def run_model(ens: Ensemble, X, target_name: str, layout: str | None = None, name: str = "model",
              keep: str | None = None, **options) -> Result:
    """Emit, build, run and parse: predictions of ``ens`` on target for every row of X,
    with the input type a compile for that target declares (float32 on devices)
    (``options``: more emit_c arguments)."""
    ens = declare_for_target(ens, get_target(target_name), None)
    header = emit_c(ens, target_name, name, layout, **options)
    X = np.asarray(X)
    with tempfile.TemporaryDirectory(prefix=f"emlc-{target_name}-") as tmp:
        work = Path(keep) if keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        exe = build(target_name, program(ens, header, X, target_name, name), work)
        return parse(ens, execute(target_name, exe), X.shape[0])


def run_parallel(jobs: list[tuple], workers: int | None = None) -> list[Result]:
    """``run_model`` over (ens, X, target, layout) tuples, in parallel threads (a fifth
    item: more emit_c arguments)."""
    workers = workers or min(len(jobs), max(2, (os.cpu_count() or 2)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda j: run_model(*j[:4], **(j[4] if len(j) > 4 else {})), jobs))


def avr_bench():
    """bench/bench_avr_digits.py as a module: its firmware counts the cycles of each
    prediction on simavr, so cycle tests measure what the benchmark prints."""
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_avr_digits.py"
    spec = importlib.util.spec_from_file_location("bench_avr_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
