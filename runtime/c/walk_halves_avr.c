/* The walk's common steps in AVR assembly: from r, follow every decision record
 * ${decides}
 * and stop at the first other record (a leaf${stops}); returns its first byte b. At a
 * leaf r is past b (the C walk reads the row's low byte next), at any other record r is
 * at b (the C step takes it). ${cycles}
 * x points at the feature value's top byte (hh), its low byte (hl) below. */
#if defined(__GNUC__) && defined(__AVR__)
#define ${P}_SKIP 1
static inline uint8_t ${p}_skip(${ptr_t}*r, const ${in_t} *features)
{
    const unsigned char *x;
    uint8_t b, hh, hl, kl, kh, s;
    __asm__ (
        ${start}
        "lpm %[b], Z+\n\t"
        "sbrs %[b], 1\n\t"
        "rjmp 6f\n\t"
        "movw %[x], %[f]\n\t"
        ${offset}
        "add %A[x], %[b]\n\t"
        "adc %B[x], __zero_reg__\n\t"
        ${test}
        "lpm %[s], Z+\n\t"
        ${left}
        "add %A[r], %[s]\n\t"
        "adc %B[r], __zero_reg__\n\t"
        "rjmp 1b\n"
        ${exits}
        "sbiw %A[r], 1\n"
        "6:\n\t"
        : [r] "+z" (*r), [x] "=&x" (x), [b] "=&d" (b), [hh] "=&d" (hh), [hl] "=&r" (hl),
          [kl] "=&r" (kl), [kh] "=&d" (kh), [s] "=&r" (s)
        : [f] "r" (features)
        : "memory");
    return b;
}
#endif
