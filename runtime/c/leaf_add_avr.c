/* P_qadd's rule in AVR assembly: add leaf record r (mask, multiplier m, a count per set
 * mask bit) to the int16 sums q, q[j] += (c m + 256) >> 9 for mask bit j. One block per
 * column, unrolled: a clear bit costs 3 cycles, a set one 25 (lpm, two mul, the 16-bit
 * add through Y, which the block saves and restores: its operands sit in r2-r15). */
#if defined(__GNUC__) && defined(__AVR__)
#define ${P}_QADD_ASM 1
static inline void ${p}_qadd_asm(${acc_t} *q, const uint8_t *r)
{
    uint8_t ${regs};
    __asm__ volatile (
        "push r28\n\t"
        "push r29\n\t"
        "movw r28, %[q]\n\t"
        "clr %[z]\n\t"
${body}
        "clr __zero_reg__\n\t"
        "pop r29\n\t"
        "pop r28\n\t"
        : "+z" (r), ${outputs}
        : [q] "l" (q)
        : "r0", "memory");
}
#endif
