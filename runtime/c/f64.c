/* IEEE-754 binary64 add and divide (round to nearest even, subnormals, signed zeros,
 * infinities, NaN) for targets whose double is 32-bit: the exact fallback when float sums
 * cannot prove a float64 class. The readable scalar form and test oracle is
 * emlc/backends/c/soft_float64.py.
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
#define ${P}_F64_INF 0x7FF00000UL    /* high word of infinity */
#define ${P}_F64_HIDDEN 0x00100000UL /* the implicit bit, in the high word */
#define ${P}_F64_NAN 0x7FF80000UL    /* high word of the quiet NaN this code returns */
/* Where every value these routines take lives, and their working values: external RAM on
 * the 8051, whose stack is the internal RAM (at most 223 B under --stack-auto, shared with
 * the caller's frames; the soft step's frames overflowed it in the tests). Static there,
 * so on the 8051 these routines and the predict that calls them are not reentrant (not
 * from an interrupt and the main loop at once); the __xdata pointers (2 B, no
 * generic-pointer calls) also save 1.5 KB of code. */
#if defined(__SDCC_mcs51)
#define ${P}_F64_MEM __xdata
#define ${P}_F64_WORK static __xdata
#else
#define ${P}_F64_MEM
#define ${P}_F64_WORK
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

/* 0 for a finite value, 1 for an infinity, 2 for NaN. */
${P}_F64_FN uint8_t ${p}_f64_class(const ${P}_F64_MEM ${p}_f64_t *x)
{
    uint32_t hi = x->hi & ${P}_F64_MAG;
    if (hi < ${P}_F64_INF) {
        return 0u;
    }
    return (hi == ${P}_F64_INF && x->lo == 0u) ? 1u : 2u;
}

/* s <<= k, 0 < k < 32 */
${P}_F64_FN void ${p}_f64_shl(${P}_F64_MEM ${p}_f64_t *s, uint8_t k)
{
    s->hi = (s->hi << k) | (s->lo >> (32u - k));
    s->lo <<= k;
}

/* a < b, unsigned */
${P}_F64_FN uint8_t ${p}_f64_below(const ${P}_F64_MEM ${p}_f64_t *a, const ${P}_F64_MEM ${p}_f64_t *b)
{
    return a->hi != b->hi ? a->hi < b->hi : a->lo < b->lo;
}

/* s >>= n (n >= 0), the lowest bit set when any shifted-out bit was. */
${P}_F64_FN void ${p}_f64_sticky(${P}_F64_MEM ${p}_f64_t *s, int16_t n)
{
    uint32_t lost = 0u;
    uint8_t k;
    if (n > 64) {
        n = 64;
    }
    for (; n >= 32; n -= 32) {
        lost |= s->lo;
        s->lo = s->hi;
        s->hi = 0u;
    }
    k = (uint8_t)n;
    if (k) {
        lost |= s->lo << (32u - k);
        s->lo = (s->lo >> k) | (s->hi << (32u - k));
        s->hi >>= k;
    }
    s->lo |= lost != 0u;
}

/* *r = the binary64 nearest s * 2^(e - 1078), ties to even; s < 2^56 leads at bit 55
 * unless e == 1 (subnormal). (e - 1) << 52 plus the rounded significand is the encoding,
 * a carry into the exponent included; past the largest finite value it is infinity. */
${P}_F64_FN void ${p}_f64_pack(${P}_F64_MEM ${p}_f64_t *r, uint8_t sign, int16_t e, const ${P}_F64_MEM ${p}_f64_t *s)
{
    uint8_t low = (uint8_t)(s->lo & 7u);
    r->lo = (s->lo >> 3) | (s->hi << 29);
    r->hi = s->hi >> 3;
    if (low > 4u || (low == 4u && (r->lo & 1u))) {
        if (++r->lo == 0u) {
            ++r->hi;
        }
    }
    r->hi += (uint32_t)(e - 1) << 20; /* e < 3200: no overflow */
    if ((r->hi >> 20) >= 0x7FFu) {
        r->hi = ${P}_F64_INF;
        r->lo = 0u;
    }
    if (sign) {
        r->hi |= ~${P}_F64_MAG;
    }
}

/* *s = the significand of x with its implicit bit; returns the biased exponent (1 for
 * subnormals). */
${P}_F64_FN int16_t ${p}_f64_split(${P}_F64_MEM ${p}_f64_t *s, const ${P}_F64_MEM ${p}_f64_t *x)
{
    int16_t exp = (int16_t)((x->hi >> 20) & 0x7FFu);
    s->hi = (x->hi & (${P}_F64_HIDDEN - 1u)) | (exp ? ${P}_F64_HIDDEN : 0u);
    s->lo = x->lo;
    return exp ? exp : 1;
}

/* *a += *b in binary64. */
${P}_F64_FN void ${p}_f64_add(${P}_F64_MEM ${p}_f64_t *a, const ${P}_F64_MEM ${p}_f64_t *b)
{
    const ${P}_F64_MEM ${p}_f64_t *big = a, *small = b;
    ${P}_F64_WORK ${p}_f64_t ma, mb;
    int16_t ea, eb;
    uint8_t ca = ${p}_f64_class(a), cb = ${p}_f64_class(b), sign;
    if (ca == 2u || cb == 2u || (ca && cb && (a->hi != b->hi || a->lo != b->lo))) {
        a->hi = ${P}_F64_NAN;
        a->lo = 0u;
        return;
    }
    if (ca || cb) {
        if (!ca) {
            a->hi = b->hi;
            a->lo = b->lo;
        }
        return;
    }
    ma.hi = a->hi & ${P}_F64_MAG;
    mb.hi = b->hi & ${P}_F64_MAG;
    ma.lo = a->lo;
    mb.lo = b->lo;
    if (${p}_f64_below(&ma, &mb)) { /* big has the larger magnitude */
        big = b;
        small = a;
    }
    sign = (uint8_t)(big->hi >> 31);
    ea = ${p}_f64_split(&ma, big);
    eb = ${p}_f64_split(&mb, small);
    ${p}_f64_shl(&ma, 3u);
    ${p}_f64_shl(&mb, 3u);
    ${p}_f64_sticky(&mb, (int16_t)(ea - eb));
    if ((a->hi ^ b->hi) >> 31) {
        ma.hi -= mb.hi + (ma.lo < mb.lo);
        ma.lo -= mb.lo;
        if ((ma.hi | ma.lo) == 0u) {
            a->hi = a->lo = 0u; /* x - x is +0 when rounding to nearest */
            return;
        }
        while (!(ma.hi >> 23) && ea > 1) {
            ${p}_f64_shl(&ma, 1u);
            --ea;
        }
    } else {
        ma.lo += mb.lo;
        ma.hi += mb.hi + (ma.lo < mb.lo);
        if (ma.hi >> 24) {
            ${p}_f64_sticky(&ma, 1);
            ++ea;
        }
    }
    ${p}_f64_pack(a, sign, ea, &ma);
}

/* *a /= *b in binary64: restoring division, one quotient bit a step. */
${P}_F64_FN void ${p}_f64_div(${P}_F64_MEM ${p}_f64_t *a, const ${P}_F64_MEM ${p}_f64_t *b)
{
    uint8_t sign = (uint8_t)((a->hi ^ b->hi) >> 31), i;
    uint8_t ca = ${p}_f64_class(a), cb = ${p}_f64_class(b);
    uint8_t za = ((a->hi & ${P}_F64_MAG) | a->lo) == 0u, zb = ((b->hi & ${P}_F64_MAG) | b->lo) == 0u;
    ${P}_F64_WORK ${p}_f64_t ma, mb, q;
    int16_t e;
    if (ca == 2u || cb == 2u || (ca && cb) || (za && zb)) {
        a->hi = ${P}_F64_NAN;
        a->lo = 0u;
        return;
    }
    if (ca || zb || za || cb) { /* infinity, or zero, signed */
        a->hi = (ca || zb) ? ${P}_F64_INF : 0u;
        a->lo = 0u;
        if (sign) {
            a->hi |= ~${P}_F64_MAG;
        }
        return;
    }
    e = ${p}_f64_split(&ma, a);
    while (!(ma.hi >> 20)) {
        ${p}_f64_shl(&ma, 1u);
        --e;
    }
    e = (int16_t)(e - ${p}_f64_split(&mb, b) + 1023);
    while (!(mb.hi >> 20)) {
        ${p}_f64_shl(&mb, 1u);
        ++e;
    }
    if (${p}_f64_below(&ma, &mb)) {
        ${p}_f64_shl(&ma, 1u);
        --e;
    }
    q.hi = q.lo = 0u;
    /* the leading one, 52 more bits and three guard bits; the shifts and the compare are
     * written out: this loop is most of the soft step's time (AVR: 2.4x the cycles with
     * calls to P_f64_shl and P_f64_below) */
    for (i = 0; i < 56u; ++i) {
        q.hi = (q.hi << 1) | (q.lo >> 31);
        q.lo <<= 1;
        if (ma.hi > mb.hi || (ma.hi == mb.hi && ma.lo >= mb.lo)) {
            ma.hi -= mb.hi + (ma.lo < mb.lo);
            ma.lo -= mb.lo;
            q.lo |= 1u;
        }
        ma.hi = (ma.hi << 1) | (ma.lo >> 31);
        ma.lo <<= 1;
    }
    q.lo |= (ma.hi | ma.lo) != 0u;
    if (e < 1) { /* subnormal result: denormalise before the one rounding */
        ${p}_f64_sticky(&q, (int16_t)(1 - e));
        e = 1;
    }
    ${p}_f64_pack(a, sign, e, &q);
}

/* *r = the binary64 of n (exact). */
${P}_F64_FN void ${p}_f64_from(${P}_F64_MEM ${p}_f64_t *r, uint32_t n)
{
    int16_t e = 1054; /* n << 21: the leading bit at 52 or below */
    r->hi = n >> 11;
    r->lo = n << 21;
    if (n == 0u) {
        return;
    }
    while (!(r->hi >> 20)) {
        ${p}_f64_shl(r, 1u);
        --e;
    }
    r->hi += (uint32_t)(e - 1) << 20;
}

/* -1, 0 or 1 as a is below, equal to or above b (-0 equals +0; NaN not expected). */
${P}_F64_FN int8_t ${p}_f64_cmp(const ${P}_F64_MEM ${p}_f64_t *a, const ${P}_F64_MEM ${p}_f64_t *b)
{
    uint32_t ma = a->hi & ${P}_F64_MAG, mb = b->hi & ${P}_F64_MAG;
    uint8_t neg = (uint8_t)(a->hi >> 31);
    int8_t m;
    if (neg != (uint8_t)(b->hi >> 31)) { /* equal only as zeros */
        return ((ma | a->lo | mb | b->lo) == 0u) ? 0 : (neg ? -1 : 1);
    }
    if (ma != mb) {
        m = ma < mb ? -1 : 1;
    } else {
        m = a->lo < b->lo ? -1 : (a->lo > b->lo ? 1 : 0);
    }
    return neg ? (int8_t)-m : m;
}
