/* IEEE-754 binary64 add, divide by a positive integer and compare (round to nearest even,
 * subnormals, signed zeros) for targets whose double is 32-bit: the exact fallback when
 * the fixed-point or float sums cannot prove a float64 class. The readable scalar form
 * and test oracle is emlc/backends/c/soft_float64.py.
 *
 * Only finite values: the emitter (soft64.py) refuses a model whose sums could overflow,
 * so no infinity or NaN ever reaches these routines, and every division is by a row's
 * total count or the tree count (1 to 65535).
 *
 * A value, and a 57-bit working significand, is a pair of 32-bit words with carries done
 * by hand: no 64-bit integer types, because SDCC 4.2 miscompiles them on the 8051
 * (compares with wide constants see the low 32 bits only; some sums and shifts are wrong).
 * Results go through pointers, not struct returns or copies (8-bit stacks are small). */
typedef struct {
    uint32_t hi; /* sign, 11 exponent bits, the fraction's top 20 bits (or a significand's bits 32-63) */
    uint32_t lo; /* the fraction's low 32 bits */
} ${p}_f64_t;

#define ${P}_F64_MAG 0x7FFFFFFFUL
#define ${P}_F64_HIDDEN 0x00100000UL /* the implicit bit, in the high word */
/* Where every value these routines take lives, and their working values: external RAM on
 * the 8051, whose stack is the internal RAM (at most 223 B under --stack-auto, shared with
 * the caller's frames; the soft step's frames overflowed it in the tests: from P_exact down
 * to f64_pack they take 62 B with the scalar working words here, 86 B with them on the
 * stack, which a 4-class test program's 136 B frame wrapped past 0xFF). Static there,
 * so on the 8051 these routines and the predict that calls them are not reentrant (not
 * from an interrupt and the main loop at once); the __xdata pointers (2 B, no
 * generic-pointer calls) also save 1.5 KB of code. */
#if defined(__SDCC_mcs51)
#define ${P}_F64_MEM __xdata
#define ${P}_F64_WORK static __xdata
#define ${P}_F64_STATIC static /* pointers: __xdata before the type would name what they point to */
#else
#define ${P}_F64_MEM
#define ${P}_F64_WORK
#define ${P}_F64_STATIC
#endif
/* Out of line: called from a few places, inlined copies of the word arithmetic are long
 * (GCC: digits 10x6 on AVR at -Os, 2.1 KB less flash; SDCC inlines every static inline,
 * which doubled the complementary forest's 8051 build to 49 KB). */
#if defined(__GNUC__)
#define ${P}_F64_FN static __attribute__((noinline, unused))
#elif defined(__SDCC)
#define ${P}_F64_FN static
#else
#define ${P}_F64_FN static inline
#endif


/* s >>= n (n >= 0), the lowest bit set when any shifted-out bit was. */
${P}_F64_FN void ${p}_f64_sticky(${P}_F64_MEM ${p}_f64_t *s, int16_t n)
{
    ${P}_F64_WORK uint32_t hi, lo, lost;
    hi = s->hi;
    lo = s->lo;
    lost = 0u;
    if (n > 64) {
        n = 64;
    }
    for (; n >= 32; n -= 32) {
        lost |= lo;
        lo = hi;
        hi = 0u;
    }
    for (; n > 0; --n) {
        lost |= lo & 1u;
        lo >>= 1;
        if (hi & 1u) {
            lo |= 0x80000000UL;
        }
        hi >>= 1;
    }
    s->hi = hi;
    s->lo = lo | (lost != 0u);
}

/* *r = the binary64 nearest s * 2^(e - 1078), ties to even; s < 2^56 leads at bit 55
 * unless e == 1 (subnormal). (e - 1) << 52 plus the rounded significand is the encoding,
 * a carry into the exponent included (no result reaches infinity). */
${P}_F64_FN void ${p}_f64_pack(${P}_F64_MEM ${p}_f64_t *r, uint8_t sign, int16_t e, const ${P}_F64_MEM ${p}_f64_t *s)
{
    ${P}_F64_WORK uint32_t hi, lo;
    ${P}_F64_WORK uint8_t low;
    hi = s->hi;
    lo = s->lo;
    low = (uint8_t)(lo & 7u);
    lo = (lo >> 3) | (hi << 29);
    hi >>= 3;
    if (low > 4u || (low == 4u && (lo & 1u))) {
        if (++lo == 0u) {
            ++hi;
        }
    }
    hi += (uint32_t)(e - 1) << 20;
    if (sign) {
        hi |= ~${P}_F64_MAG;
    }
    r->hi = hi;
    r->lo = lo;
}

/* *s = the significand of x with its implicit bit and three guard bits (s < 2^56); returns
 * the biased exponent (1 for subnormals). s may be x. */
${P}_F64_FN int16_t ${p}_f64_split(${P}_F64_MEM ${p}_f64_t *s, const ${P}_F64_MEM ${p}_f64_t *x)
{
    int16_t exp = (int16_t)((x->hi >> 20) & 0x7FFu);
    uint32_t hi = x->hi & (${P}_F64_HIDDEN - 1u);
    if (exp) {
        hi |= ${P}_F64_HIDDEN;
    }
    s->hi = (hi << 3) | (x->lo >> 29);
    s->lo = x->lo << 3;
    return exp ? exp : 1;
}

/* *a += *b in binary64. */
${P}_F64_FN void ${p}_f64_add(${P}_F64_MEM ${p}_f64_t *a, const ${P}_F64_MEM ${p}_f64_t *b)
{
    ${P}_F64_STATIC const ${P}_F64_MEM ${p}_f64_t *big, *small;
    ${P}_F64_WORK ${p}_f64_t m;
    ${P}_F64_WORK uint32_t xh, xl, c;
    ${P}_F64_WORK int16_t ea;
    ${P}_F64_WORK uint8_t sign;
    xh = a->hi & ${P}_F64_MAG;
    c = b->hi & ${P}_F64_MAG;
    big = a;
    small = b;
    if (xh < c || (xh == c && a->lo < b->lo)) { /* big has the larger magnitude */
        big = b;
        small = a;
    }
    sign = (uint8_t)(big->hi >> 31);
    ea = ${p}_f64_split(&m, big); /* big's significand in xh, xl; small's in m */
    xh = m.hi;
    xl = m.lo;
    ${p}_f64_sticky(&m, (int16_t)(ea - ${p}_f64_split(&m, small)));
    c = xl;
    if ((a->hi ^ b->hi) >> 31) {
        xl -= m.lo;
        xh -= m.hi + (c < xl);
        if ((xh | xl) == 0u) {
            a->hi = a->lo = 0u; /* x - x is +0 when rounding to nearest */
            return;
        }
        for (; !(xh >> 23) && ea > 1; --ea) {
            xh <<= 1;
            if (xl >> 31) {
                xh |= 1u;
            }
            xl <<= 1;
        }
    } else {
        xl += m.lo;
        xh += m.hi + (xl < c);
    }
    m.hi = xh;
    m.lo = xl;
    if (xh >> 24) {
        ${p}_f64_sticky(&m, 1);
        ++ea;
    }
    ${p}_f64_pack(a, sign, ea, &m);
}

/* *s = the binary64 nearest (-1)^sign s 2^(e - 1078) / n for s < 2^56 and 0 < n < 2^16.
 * With s shifted to lead at bit 63 and n at bit 15, (s << 8) / n is above 2^55 and below
 * 2^57: 52 fraction bits and at least three to round, by 72 steps of long division, one
 * quotient bit a step. The first 16 steps are one: the dividend's leading 16 bits against
 * n. One register holds the dividend's bits still to come at its top and the quotient's at
 * its bottom. */
${P}_F64_FN void ${p}_f64_quot(${P}_F64_MEM ${p}_f64_t *s, uint8_t sign, int16_t e, uint16_t n)
{
    ${P}_F64_WORK uint32_t hi, lo;
    ${P}_F64_WORK uint16_t r;
    uint8_t i, carry = 0u;
    hi = s->hi;
    lo = s->lo;
    if ((hi | lo) == 0u) {
        s->hi = (uint32_t)sign << 31; /* +-0 / n */
        return;
    }
    for (e = (int16_t)(e - 8); !(hi >> 24); e = (int16_t)(e - 8)) {
        hi = (hi << 8) | (lo >> 24);
        lo <<= 8;
    }
    for (; !(hi >> 31); --e) {
        hi <<= 1;
        if (lo >> 31) {
            hi |= 1u;
        }
        lo <<= 1;
    }
    for (; !(n >> 15); ++e) {
        n <<= 1;
    }
    r = (uint16_t)(hi >> 16);
    hi = (hi << 16) | (lo >> 16);
    lo <<= 16;
    for (i = 57u;;) {
        if (carry || r >= n) {
            r = (uint16_t)(r - n);
            lo |= 1u;
        }
        if (--i == 0u) {
            break;
        }
        carry = (uint8_t)(r >> 15);
        r <<= 1;
        if (hi >> 31) {
            r |= 1u;
        }
        hi <<= 1;
        if (lo >> 31) {
            hi |= 1u;
        }
        lo <<= 1;
    }
    s->hi = hi;
    s->lo = lo | (r != 0u);
    if (hi >> 24) {
        ${p}_f64_sticky(s, 1);
        ++e;
    }
    if (e < 1) { /* subnormal result: denormalise before the one rounding */
        ${p}_f64_sticky(s, (int16_t)(1 - e));
        e = 1;
    }
    ${p}_f64_pack(s, sign, e, s);
}

/* *a /= n in binary64 (0 < n < 2^16). */
${P}_F64_FN void ${p}_f64_div(${P}_F64_MEM ${p}_f64_t *a, uint16_t n)
{
    uint8_t sign = (uint8_t)(a->hi >> 31);
    ${p}_f64_quot(a, sign, ${p}_f64_split(a, a), n);
}

/* -1, 0 or 1 as a is below, equal to or above b (-0 equals +0). */
${P}_F64_FN int8_t ${p}_f64_cmp(const ${P}_F64_MEM ${p}_f64_t *a, const ${P}_F64_MEM ${p}_f64_t *b)
{
    uint32_t ma = a->hi & ${P}_F64_MAG, mb = b->hi & ${P}_F64_MAG;
    uint8_t neg = (uint8_t)(a->hi >> 31);
    int8_t m;
    if (neg != (uint8_t)(b->hi >> 31)) { /* equal only as zeros */
        m = (ma | a->lo | mb | b->lo) != 0u;
    } else if (ma != mb) {
        m = ma < mb ? -1 : 1;
    } else {
        m = a->lo < b->lo ? -1 : (a->lo > b->lo ? 1 : 0);
    }
    return neg ? (int8_t)-m : m;
}
