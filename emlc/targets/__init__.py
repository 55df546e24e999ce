"""Target profiles: what the C backend must know about a microcontroller.

A :class:`Target` records the facts that change the emitted code or decide whether a
model fits: word size, FPU, width of ``double``, how constant tables are placed in
flash and read back, memory limits, and the compiler command that builds for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EmlcError


@dataclass(frozen=True)
class FlashAccess:
    """How constant tables live in flash and how one element is read back.

    ``qualifier`` goes before the type in a declaration, ``attribute`` after the
    declarator; ``reads`` maps an element size in bytes to a C macro/function taking
    an address (e.g. ``pgm_read_word``), or is empty when flash is addressed directly.
    """

    name: str
    include: str | None = None
    qualifier: str = ""
    attribute: str = ""
    reads: tuple[tuple[int, str], ...] = ()

    @property
    def direct(self) -> bool:
        return not self.reads


DIRECT = FlashAccess("direct")
PROGMEM = FlashAccess(
    "progmem",
    include="avr/pgmspace.h",
    attribute=" PROGMEM",
    reads=((1, "pgm_read_byte"), (2, "pgm_read_word"), (4, "pgm_read_dword")),
)
CODE_SPACE = FlashAccess("code", qualifier="__code ")


@dataclass(frozen=True)
class Target:
    """One compilation target; sizes are bytes, ``None`` means unlimited (the host)."""

    name: str
    description: str
    word_bits: int
    has_fpu: bool
    double_bits: int
    flash: FlashAccess
    flash_bytes: int | None
    ram_bytes: int | None
    compiler: str
    cflags: tuple[str, ...]
    #: rough bytes of machine code per decision node in the inline layout with float
    #: inputs (estimates only; AVR with avr-gcc 5.4 -Os: 54-62 per walk, the leaves' adds
    #: counted apart (cost.CodeTerms), a fifth of that with int16 inputs; digits forests and
    #: boosting, 3-10 trees, every build point linked)
    inline_node_bytes: int = 16
    #: inline tests may compare a float feature's bits directly (no key preparation); off
    #: where the compiler expands each such test into far more code (SDCC: 2x the code, 8x
    #: the compile time)
    direct_float_tests: bool = True
    #: inline tests compare a float32 feature in the FPU (``x <= t``; ``!(x > t)`` where NaN
    #: goes left) instead of its bits (Cortex-M4F, digits 10x6: 5 instructions a test against
    #: 7 for the bits and their NaN patterns). Exact while the FPU keeps subnormals (the
    #: reset default; not with flush-to-zero, FPSCR.FZ)
    fpu_tests: bool = False
    #: little-endian 8-bit cores: a float test loads and compares the upper 16 bits of the
    #: feature and reads the lower half only when they equal the threshold's (AVR: about
    #: half the cycles of a 32-bit compare)
    half_word_tests: bool = False
    #: the inline layout puts each tree in its own function whose leaves add their
    #: fixed-point values to the class sums at once (8-bit cores: no table loop per leaf
    #: entry; separate functions keep every branch within the compiler's reach)
    leaf_sums_inline: bool = False
    #: the speed levels also consider that walk where it is not the target's default
    #: (32-bit cores: one function walks every tree, its int32 sums in locals the compiler
    #: keeps in registers, and records the rows for the near-tie step; no table loop per
    #: leaf entry, more code per leaf): the flash budget chooses (digits 10x6, Cortex-M4F:
    #: 1,018 instructions a prediction with the leaf table, 561 with the sums in code)
    leaf_sums_speed: bool = False
    #: without a 64-bit double, predict decides float64 near-ties with binary64 integer
    #: arithmetic (runtime/c/f64.c on pairs of 32-bit words)
    soft_float64: bool = True
    #: double arithmetic runs in hardware. Where it does not (a 64-bit double in libgcc's
    #: software), predict takes the fixed-point sums and then the binary64 integer step
    #: above, as on targets whose double is 32-bit; predict_proba keeps its double sums
    double_fpu: bool = False
    #: flash of libgcc's software double where predict sums in it (estimates only; digits
    #: 10x6 -Os with --float32-sums, its add, divide, compare and conversions: Cortex-M0
    #: 4,656 B, Cortex-M4F 5,972, RV32EC 5,364; against 998, 980 and 1,184 B of f64.c)
    soft_double_bytes: int = 0
    #: flash that step adds (estimates only; links of the complementary-leaves forest and
    #: digits 6x6 and 10x6 against --float32-sums, avr-gcc 5.4: 1.4-2.4 KB for the packed
    #: table (no float tier), 2.5-4.1 KB otherwise, and 4.6 KB keeps the 10x6 inline -Os
    #: estimate above its link; SDCC 4.2 on the 8051: 4.1 and 5.5 KB)
    soft_float64_bytes: int = 4600
    #: that step in the speed levels' table builds over leaf records (fast_leaf_records;
    #: its float tier and the binary64 sum of the recorded rows' records): avr-gcc 5.4,
    #: ATmega328P, digits 10x6 and 20x5 with stored values or multipliers and heads of
    #: 0-4 levels, linked against --float32-sums: 2,770-2,794 B (None: soft_float64_bytes)
    soft_float64_record_bytes: int | None = None
    #: the link calls the C library's exp/expf (``<math.h>``, ``-lm``): on the host it is
    #: the one LightGBM, XGBoost and SciPy call, so probabilities are bit-identical;
    #: elsewhere emlc's own exp (a few ulp from it) keeps libm out of the firmware
    libm_exp: bool = False
    #: the feature type a model whose library compares float64 (LightGBM,
    #: HistGradientBoosting) takes here unless ``--input`` says otherwise. Devices pass
    #: ``float``: the build is exact for every float32 value (thresholds are rounded to
    #: float32 the way each comparison needs). ``None`` keeps the library's float64.
    default_float_input: str | None = "float32"
    #: the speed levels' table builds hold count leaves as byte records too
    #: (backends/c/leaf_records.py), whose fixed-point add runs in a few lines of assembly
    #: (runtime/c/leaf_add_avr.c: AVR, where the sparse tables' C loop took about 230
    #: cycles a tree on digits forests)
    fast_leaf_records: bool = False

    @property
    def has_double(self) -> bool:
        return self.double_bits == 64

    def inline_bytes_per_node(self, input_type: str) -> int:
        """:attr:`inline_node_bytes` for features of ``input_type``: with half-word float
        tests, an integer feature is one compare where a float takes two on its halves
        (AVR: about 3/8 of the code)."""
        if self.half_word_tests and not input_type.startswith("float"):
            return self.inline_node_bytes * 3 // 8
        return self.inline_node_bytes


_WARN = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Os")

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "host", "the machine running emlc (gcc/clang, 64-bit double)",
            word_bits=64, has_fpu=True, double_bits=64, flash=DIRECT,
            flash_bytes=None, ram_bytes=None, compiler="gcc", cflags=_WARN, inline_node_bytes=12, double_fpu=True,
            libm_exp=True,
            default_float_input=None,
        ),
        Target(
            "avr", "ATmega2560 (8-bit AVR, no FPU, 32-bit double, 256 KiB flash, 8 KiB RAM)",
            word_bits=8, has_fpu=False, double_bits=32, flash=PROGMEM,
            flash_bytes=256 * 1024, ram_bytes=8 * 1024, compiler="avr-gcc",
            cflags=("-mmcu=atmega2560", *_WARN), inline_node_bytes=64,
            half_word_tests=True, leaf_sums_inline=True, fast_leaf_records=True, soft_float64_record_bytes=2850,
        ),
        Target(
            "atmega328p", "ATmega328P (8-bit AVR, no FPU, 32 KiB flash, 2 KiB RAM)",
            word_bits=8, has_fpu=False, double_bits=32, flash=PROGMEM,
            flash_bytes=32 * 1024, ram_bytes=2 * 1024, compiler="avr-gcc",
            cflags=("-mmcu=atmega328p", *_WARN), inline_node_bytes=64,
            half_word_tests=True, leaf_sums_inline=True, fast_leaf_records=True, soft_float64_record_bytes=2850,
        ),
        Target(
            "cortex-m0", "Arm Cortex-M0 (32-bit, no FPU), e.g. nRF51 / micro:bit",
            word_bits=32, has_fpu=False, double_bits=64, flash=DIRECT,
            flash_bytes=256 * 1024, ram_bytes=16 * 1024, compiler="arm-none-eabi-gcc",
            cflags=("-mcpu=cortex-m0", "-mthumb", *_WARN), inline_node_bytes=14,
            soft_float64_bytes=1300, soft_double_bytes=4700, leaf_sums_speed=True,
        ),
        Target(
            "cortex-m4f", "Arm Cortex-M4F (32-bit, single-precision FPU)",
            word_bits=32, has_fpu=True, double_bits=64, flash=DIRECT,
            flash_bytes=1024 * 1024, ram_bytes=128 * 1024, compiler="arm-none-eabi-gcc",
            cflags=("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", *_WARN),
            inline_node_bytes=12,
            soft_float64_bytes=1300, soft_double_bytes=6000, leaf_sums_speed=True, fpu_tests=True,
        ),
        Target(
            "rv32ec", "WCH CH32V003 (RV32EC, no FPU, 16 KiB flash, 2 KiB RAM)",
            word_bits=32, has_fpu=False, double_bits=64, flash=DIRECT,
            flash_bytes=16 * 1024, ram_bytes=2 * 1024, compiler="riscv64-unknown-elf-gcc",
            cflags=("-march=rv32ec", "-mabi=ilp32e", *_WARN), inline_node_bytes=14,
            soft_float64_bytes=1300, soft_double_bytes=5400, leaf_sums_speed=True,
        ),
        Target(
            "mcs51", "Intel 8051 (SDCC, 8-bit, code memory via __code, 64 KiB code space; stack in the 256 B internal RAM)",
            word_bits=8, has_fpu=False, double_bits=32, flash=CODE_SPACE,
            flash_bytes=64 * 1024, ram_bytes=224, compiler="sdcc",
            cflags=("-mmcs51", "--std-c99", "--model-large", "--stack-auto"), inline_node_bytes=30,
            direct_float_tests=False, soft_float64_bytes=5600,
        ),
    )
}


def get_target(target: Target | str) -> Target:
    """Look a target up by name (a :class:`Target` passes through unchanged)."""
    if isinstance(target, Target):
        return target
    try:
        return TARGETS[target]
    except KeyError:
        raise EmlcError(
            f"unknown target {target!r}; choose one of: {', '.join(TARGETS)}"
        ) from None


__all__ = ["CODE_SPACE", "DIRECT", "PROGMEM", "TARGETS", "FlashAccess", "Target", "get_target"]
