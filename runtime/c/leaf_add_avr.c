/* P_qadd's rule in AVR assembly: add leaf record r to the int16 sums q, for each set
 * mask bit j q[j] += the entry's value: its count c scaled, (c m + 256) >> 9 (m, the
 * row's multiplier, follows the mask), or the byte stored for it. One block per column,
 * unrolled: a clear bit costs 3 cycles, a set one 12, or 22 with the multiplications (lpm,
 * the add through Y, which the block saves and restores: its operands sit in r16-r23,
 * which a caller need not save; the upper byte only on a carry, every value being a byte). */
#if defined(__GNUC__) && defined(__AVR__)
#define ${P}_QADD_ASM 1
static inline void ${p}_qadd_asm(${acc_t} *q, const uint8_t *r)
{
    uint8_t ${regs};
    __asm__ volatile (
        "push r28\n\t"
        "push r29\n\t"
        "movw r28, %[q]\n\t"
${body}
        "pop r29\n\t"
        "pop r28\n\t"
        : "+z" (r), ${outputs}
        : [q] "l" (q)
        : "r0", "memory");
}
#endif
