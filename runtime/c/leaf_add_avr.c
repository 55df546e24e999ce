/* P_qadd's rule in AVR assembly: add leaf record r to the int16 sums q, for each set
 * mask bit j q[j] += the entry's value: its count c scaled, (c m + 256) >> 9 (m, the
 * row's multiplier, follows the mask), or the byte stored for it. One block per column,
 * unrolled: a clear bit costs 3 cycles, a set one 12, or 22 with the multiplications (lpm,
 * the add through Y, which the block keeps in y meanwhile: 2 cycles, where a push and pop
 * took 8; its operands sit in r16-r23, which a caller need not save, but for y and the
 * multiplication's t and z; the upper byte only on a carry, every value being a byte). */
#if defined(__GNUC__) && defined(__AVR__)
#define ${P}_QADD_ASM 1
static inline void ${p}_qadd_asm(${acc_t} *q, const uint8_t *r)
{
    uint8_t ${regs};
    uint16_t y;
    __asm__ volatile (
        "movw %[y], r28\n\t"
        "movw r28, %[q]\n\t"
${body}
        "movw r28, %[y]\n\t"
        : "+z" (r), [y] "=&l" (y), ${outputs}
        : [q] "l" (q)
        : "r0", "memory");
}
#endif
