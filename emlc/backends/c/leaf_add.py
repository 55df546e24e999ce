"""The fixed-point add of one leaf record (:mod:`.leaf_records`) to predict's int16 sums,
P_qadd: the C form, which is the rule (:func:`.leaf_records.scaled` of each count and
the row's multiplier, or the value a record stores), and at the speed levels on AVR the
same in a few lines of assembly (``runtime/c/leaf_add_avr.c``), one unrolled block per
column: 3 cycles a clear mask bit, 12 a set one, 22 with the multiplications. avr-gcc
5.4 walks the C form's mask bit by bit and multiplies in 16 bits: digits 20x5 on the
ATmega328P took 9,100 cycles a prediction with it, 8,217 with the sparse tables' C loop
(206 cycles a tree), 7,458 with the assembly (164 a tree) and 6,451 with stored values
(91 a tree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...ir.ensemble import Ensemble
from ...targets import Target
from .leaf_records import row_entries
from .model import Model, runtime_source

if TYPE_CHECKING:
    from .plan import Plan

#: machine code of a column's block, with and without the multiplications (19 and 10
#: instructions), and around the blocks (digits 20x5 on the ATmega328P, with them: 366 B
#: more than the C loop alone)
_COLUMN_CODE, _STORED_COLUMN_CODE, _CODE = 36, 20, 6


def applies(target: Target, plan: Plan) -> bool:
    """Does P_qadd take the assembly on AVR? At the speed levels (-Os keeps the smaller C
    loop: digits 10x6 on the ATmega2560, 288 B less for 1,141 more cycles), over count
    records whose every value is a byte (the blocks add one byte and carry into the
    upper), into int16 sums."""
    rec, fx = plan.records, plan.fixed
    return (target.fast_leaf_records and not plan.pack_tables and rec is not None and rec.fast is not None
            and fx is not None and fx.acc_t == "int16_t" and int(rec.fast.max()) < 256)


def code_bytes(ens: Ensemble, target: Target, plan: Plan) -> int:
    """Machine code the assembly adds (for the cost model's :class:`~emlc.cost.CodeTerms`)."""
    if not applies(target, plan):
        return 0
    assert plan.records is not None
    return (_STORED_COLUMN_CODE if plan.records.stored else _COLUMN_CODE) * ens.leaf_width + _CODE


def _column(j: int, stored: bool) -> list[str]:
    """Column ``j``'s block: skip it when its mask bit is clear, else read the byte, for a
    count scale it (``(c mh + ((c ml + 256) >> 8)) >> 1``, :data:`.leaf_records.FAST_C`;
    ``stored``: the byte is the value) and add the value to q[j] (at Y + 2j), its upper
    half only on a carry."""
    scale = [] if stored else [
        "mul %[c], %[ml]", "mov %[t], r1", "inc %[t]",  # hi(c ml) + 1 = (c ml + 256) >> 8, at most 255
        "mul %[c], %[mh]", "add r0, %[t]", "adc r1, %[z]", "lsr r1", "ror r0"]  # the value, in r0
    return [f"sbrs %[m{j // 8}], {j % 8}", "rjmp 1f", "lpm %[c], Z+", *scale,
            f"ldd %[a], Y+{2 * j}", f"add %[a], {'%[c]' if stored else 'r0'}", f"std Y+{2 * j}, %[a]", "brcc 1f",
            f"ldd %[a], Y+{2 * j + 1}", "inc %[a]", f"std Y+{2 * j + 1}, %[a]", "#1"]


def asm_function(p: str, acc_t: str, mask_bytes: int, width: int, stored: bool = False) -> str:
    """``p``_qadd_asm(q, r), behind its guard: the blocks of ``width`` columns over records
    with masks of ``mask_bytes`` (``stored``: their fixed-point values, no multiplier)."""
    masks = [f"m{b}" for b in range(mask_bytes)]
    lines = ([] if stored else ["clr %[z]"]) + [f"lpm %[{x}], Z+" for x in masks]
    lines += [] if stored else ["lpm %[ml], Z+", "lpm %[mh], Z+"]
    for j in range(width):
        lines += _column(j, stored)
    lines += [] if stored else ["clr __zero_reg__"]  # mul's product took r1
    regs = [*masks, "c", "a"] + ([] if stored else ["ml", "mh", "t", "z"])
    return runtime_source(
        "leaf_add_avr.c", p=p, P=p.upper(), acc_t=acc_t, regs=", ".join(regs),
        body="\n".join(f'        "{x[1:]}:\\n\\t"' if x.startswith("#") else f'        "{x}\\n\\t"' for x in lines),
        outputs=", ".join(f'[{x}] "=&{"a" if x in ("c", "a", "ml", "mh") or x in masks else "l"}" ({x})' for x in regs))


def qadd_function(m: Model) -> str:
    """P_qadd(q, o, row): the assembly where it applies (behind its guard), else and
    besides the C loop over the record."""
    fx = m.fixed
    assert fx is not None
    p, at = m.p, fx.acc_t
    ent = row_entries(m, "row", sums=(at, "q + o"))
    body = f"{ent.head}    {ent.loop} {{\n        {ent.enter}{ent.slot} = ({at})({ent.slot} + {ent.fast});\n    }}"
    asm = ""
    if applies(m.target, m.plan):
        rec = m.plan.records
        assert rec is not None
        asm = asm_function(p, at, rec.mask_bytes, m.ens.leaf_width, rec.stored) + "\n\n"
        body = (f"#if defined({p.upper()}_QADD_ASM)\n    {p}_qadd_asm(q + o, {ent.table} + row);\n#else\n"
                f"{body}\n#endif")
    return (f"{asm}/* Add leaf row `row`, fixed point, to the integer sums from output o on. */\n"
            f"static inline void {p}_qadd({at} *q, uint16_t o, {m.row_t} row)\n{{\n{body}\n}}")
