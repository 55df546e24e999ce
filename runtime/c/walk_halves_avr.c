/* The walk's common steps in AVR assembly: from r, follow every decision record whose
 * value the upper halves decide (top byte under ${fast_top}, h != kh) and stop at the
 * first other record (a leaf, a tie, any other value), which the C walk takes. About 33
 * cycles a node, where avr-gcc 5's code for the same C takes about 45. */
#if defined(__GNUC__) && defined(__AVR__)
#define ${P}_SKIP 1
static inline void ${p}_skip(${ptr_t}*r, const float *features)
{
    const unsigned char *x;
    uint8_t b, hh, hl, kl, kh, s;
    __asm__ (
        "1:\n\t"
        "lpm %[b], Z+\n\t"
        "sbrs %[b], 1\n\t"
        "rjmp 3f\n\t"
        "movw %[x], %[f]\n\t"
        "ori %[b], 1\n\t"
        "add %A[x], %[b]\n\t"
        "adc %B[x], __zero_reg__\n\t"
        "ld %[hh], %a[x]\n\t"
        "cpi %[hh], ${fast_top}\n\t"
        "brsh 3f\n\t"
        "ld %[hl], -%a[x]\n\t"
        "lpm %[kl], Z+\n\t"
        "lpm %[kh], Z+\n\t"
        "cp %[hl], %[kl]\n\t"
        "cpc %[hh], %[kh]\n\t"
        "breq 4f\n\t"
        "lpm %[s], Z+\n\t"
        ${left}
        "add %A[r], %[s]\n\t"
        "adc %B[r], __zero_reg__\n\t"
        "rjmp 1b\n"
        "4:\n\t"
        "sbiw %A[r], 2\n"
        "3:\n\t"
        "sbiw %A[r], 1\n\t"
        : [r] "+z" (*r), [x] "=&x" (x), [b] "=&d" (b), [hh] "=&d" (hh), [hl] "=&r" (hl),
          [kl] "=&r" (kl), [kh] "=&r" (kh), [s] "=&r" (s)
        : [f] "r" (features)
        : "memory");
}
#endif
