"""LLVM backend: LLVM IR text and object files for the host and microcontrollers.

Object files export the same C API as the C backend (:mod:`emlc.backends.c`), so one
harness links either; ``IN`` is the input type's C type (``double`` is ``float`` on
targets without a 64-bit double, where sums are float as in the C backend)::

    int32_t NAME_predict(const IN *features, int32_t n_features);  /* float for regressors */
    int32_t NAME_predict_proba(const IN *features, int32_t n_features, float *out, int32_t n_out);
    int32_t NAME_predict_values(...);       /* same, for regressors, rankers and anomaly */
    void NAME_raw_batch(const IN *X, int64_t n_rows, RAW *raw);   /* raw margins of many rows */

A classifier with an early exit (``Ensemble.early_exit``) returns from ``predict`` at
the first check point that decides the row, with the class
:func:`emlc.ir.interpret.interpret_early_exit` gives (see
:mod:`emlc.backends.llvm.exit_checks`); ``predict_proba`` and ``raw_batch`` sum every tree.

``predict`` returns -1 for classifiers (0 for anomaly, NaN for regressors) when
``n_features`` is wrong; ``predict_proba``/``predict_values`` return the number of
values written, -1 for a wrong ``n_features`` and -2 for a wrong ``n_out``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import llvmlite.binding as llvm

from ...errors import EmlcError
from ...ir.ensemble import Ensemble
from .codegen import Layout, emit_module
from ...float_traps import traps_off

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INIT = threading.Lock()
_initialised = False


@dataclass(frozen=True)
class LlvmTarget:
    """How llvmlite builds a target machine for one supported target."""

    triple: str
    cpu: str
    features: str = ""
    abi: str = ""
    flash_tables: bool = False  # constant tables in program memory (AVR addrspace 1)


TARGETS: dict[str, LlvmTarget] = {
    "avr": LlvmTarget("avr", "atmega2560", flash_tables=True),
    "cortex-m0": LlvmTarget("thumbv6m-unknown-none-eabi", "cortex-m0"),
    "cortex-m4f": LlvmTarget("thumbv7em-unknown-none-eabihf", "cortex-m4"),
    "rv32ec": LlvmTarget("riscv32-unknown-elf", "generic-rv32", "+e,+c", "ilp32e"),
}
_ALIASES = {
    "atmega2560": "avr",
    "thumbv6m-none-eabi": "cortex-m0",
    "thumbv7em-none-eabihf": "cortex-m4f",
    "riscv32": "rv32ec",
}


def initialise() -> None:
    """Register every LLVM target once per process."""
    global _initialised
    with _INIT:
        if not _initialised:
            llvm.initialize_all_targets()
            llvm.initialize_all_asmprinters()
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _initialised = True


def host_target() -> LlvmTarget:
    initialise()
    return LlvmTarget(llvm.get_process_triple(), llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten())


def resolve_target(target: str) -> LlvmTarget:
    if target == "host":
        return host_target()
    key = _ALIASES.get(target, target)
    if key not in TARGETS:
        names = ", ".join(["host", *TARGETS])
        raise EmlcError(f"unknown LLVM target {target!r}; use one of {names}")
    return TARGETS[key]


def target_machine(target: LlvmTarget, *, jit: bool = False, opt: int = 2) -> llvm.TargetMachine:
    initialise()
    reloc = "default" if jit else ("pic" if target.triple == llvm.get_process_triple() else "static")
    return llvm.Target.from_triple(target.triple).create_target_machine(
        cpu=target.cpu,
        features=target.features,
        opt=opt,
        reloc=reloc,
        codemodel="jitdefault" if jit else "default",
        jit=jit,
        abiname=target.abi,
    )


def layout_for(target: LlvmTarget, tm: llvm.TargetMachine) -> Layout:
    data = str(tm.target_data)
    found = re.search(r"(?:^|-)p0?:(\d+)", data)
    bits = int(found.group(1)) if found else 64
    return Layout(target.triple, data, bits, " addrspace(1)" if target.flash_tables else "",
                  has_double=target.triple != "avr")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise EmlcError(f"model name {name!r} is not a C identifier; use letters, digits and _")
    return name


@traps_off
def emit_llvm(ens: Ensemble, target: str = "host", name: str = "model") -> str:
    """Textual LLVM IR of ``ens`` for ``target`` (see the module docstring for the API)."""
    tgt = resolve_target(target)
    return emit_module(ens, layout_for(tgt, target_machine(tgt)), check_name(name))


#: tree functions above this many instructions skip the IR pipeline: their emitted
#: SSA is already minimal, and O1+ costs ~30 ms a tree for no measurable speed.
BIG_FUNCTION = 40


def optimise(module: llvm.ModuleRef, tm: llvm.TargetMachine, level: int) -> None:
    """Run the pipeline at ``level`` on the small glue functions, none on big trees."""
    if level == 0:
        return
    pto = llvm.create_pipeline_tuning_options(speed_level=level)
    pto.loop_vectorization = False
    pto.slp_vectorization = False
    pb = llvm.create_pass_builder(tm, pto)
    fpm = pb.getFunctionPassManager()
    for fn in module.functions:
        if fn.is_declaration:
            continue
        size = sum(len(list(b.instructions)) for b in fn.blocks)
        if size <= BIG_FUNCTION or "_tree" not in fn.name:
            fpm.run(fn, pb)


def compile_module(text: str, tm: llvm.TargetMachine, level: int = 2) -> llvm.ModuleRef:
    module = llvm.parse_assembly(text)
    module.verify()
    optimise(module, tm, level)
    return module


@traps_off
def emit_obj(ens: Ensemble, target: str = "host", name: str = "model", opt: int = 2) -> bytes:
    """An ELF object file exporting the C API, for the host or a microcontroller."""
    tgt = resolve_target(target)
    tm = target_machine(tgt, opt=opt)
    text = emit_module(ens, layout_for(tgt, tm), check_name(name))
    return tm.emit_object(compile_module(text, tm, opt))

