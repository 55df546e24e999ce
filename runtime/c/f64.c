/* IEEE-754 binary64 add and divide on uint64_t bit patterns (round to nearest even,
 * subnormals, signed zeros, infinities, NaN), for targets whose double is 32-bit: the
 * exact fallback when float sums cannot prove a float64 class. The readable scalar form
 * and test oracle is emlc/backends/soft_float64.py. */
#define ${P}_F64_FRAC UINT64_C(0x000FFFFFFFFFFFFF)
#define ${P}_F64_HIDDEN UINT64_C(0x0010000000000000)
#define ${P}_F64_INF UINT64_C(0x7FF0000000000000)
#define ${P}_F64_NAN UINT64_C(0x7FF8000000000000)
#define ${P}_F64_MAG UINT64_C(0x7FFFFFFFFFFFFFFF)
/* Out of line (GCC): called from a few places, inlined copies of 64-bit code are long
 * (digits 10x6 on AVR at -Os: 2.1 KB less flash). */
#if defined(__GNUC__)
#define ${P}_F64_FN static __attribute__((noinline, unused))
#else
#define ${P}_F64_FN static inline
#endif

/* Tests compare 64-bit values with shifts or 32-bit halves: SDCC 4.2 compares a 64-bit
 * value with a constant beyond 32 bits on its low 32 bits only. */

/* 0 for a finite value, 1 for an infinity, 2 for NaN. */
${P}_F64_FN uint8_t ${p}_f64_class(uint64_t x)
{
    uint32_t hi = (uint32_t)(x >> 32) & 0x7FFFFFFFUL;
    if (hi < 0x7FF00000UL) {
        return 0u;
    }
    return (hi == 0x7FF00000UL && (uint32_t)x == 0u) ? 1u : 2u;
}

/* s >> n, the lowest bit set when any shifted-out bit was. */
${P}_F64_FN uint64_t ${p}_f64_sticky(uint64_t s, int16_t n)
{
    if (n >= 63) {
        return s != 0u;
    }
    return (s >> n) | ((s & ((UINT64_C(1) << n) - 1u)) != 0u);
}

/* The binary64 nearest s * 2^(e - 1078), ties to even; s < 2^56 leads at bit 55 unless
 * e == 1 (subnormal). (e - 1) << 52 plus the rounded significand is the encoding, a carry
 * into the exponent included; past the largest finite value it is infinity. */
${P}_F64_FN uint64_t ${p}_f64_pack(uint8_t sign, int16_t e, uint64_t s)
{
    uint8_t low = (uint8_t)(s & 7u);
    uint64_t bits;
    s >>= 3;
    if (low > 4u || (low == 4u && (s & 1u))) {
        ++s;
    }
    bits = ((uint64_t)(e - 1) << 52) + s;
    if ((bits >> 52) >= 0x7FFu) {
        bits = ${P}_F64_INF;
    }
    return sign ? bits | ~${P}_F64_MAG : bits;
}

/* Biased exponent (1 for subnormals) and significand with its implicit bit. */
${P}_F64_FN uint64_t ${p}_f64_split(uint64_t x, int16_t *e)
{
    int16_t exp = (int16_t)((x >> 52) & 0x7FFu);
    *e = exp ? exp : 1;
    return (x & ${P}_F64_FRAC) | (exp ? ${P}_F64_HIDDEN : 0u);
}

/* a + b in binary64. */
${P}_F64_FN uint64_t ${p}_f64_add(uint64_t a, uint64_t b)
{
    uint64_t ma, mb, s, t;
    int16_t ea, eb;
    uint8_t sa, ca = ${p}_f64_class(a), cb = ${p}_f64_class(b);
    if (ca == 2u || cb == 2u || (ca && cb && a != b)) {
        return ${P}_F64_NAN;
    }
    if (ca || cb) {
        return ca ? a : b;
    }
    if ((a & ${P}_F64_MAG) < (b & ${P}_F64_MAG)) { /* a has the larger magnitude */
        t = a;
        a = b;
        b = t;
    }
    sa = (uint8_t)(a >> 63);
    ma = ${p}_f64_split(a, &ea) << 3;
    mb = ${p}_f64_split(b, &eb) << 3;
    mb = ${p}_f64_sticky(mb, (int16_t)(ea - eb));
    if ((a ^ b) >> 63) {
        s = ma - mb;
        if (s == 0u) {
            return 0u; /* x - x is +0 when rounding to nearest */
        }
        while (!(s >> 55) && ea > 1) {
            s <<= 1;
            --ea;
        }
    } else {
        s = ma + mb;
        if ((s >> 56) != 0u) {
            s = ${p}_f64_sticky(s, 1);
            ++ea;
        }
    }
    return ${p}_f64_pack(sa, ea, s);
}

/* a / b in binary64: restoring division, one quotient bit a step. */
${P}_F64_FN uint64_t ${p}_f64_div(uint64_t a, uint64_t b)
{
    uint8_t sign = (uint8_t)((a ^ b) >> 63);
    uint8_t ca = ${p}_f64_class(a), cb = ${p}_f64_class(b), za = (a & ${P}_F64_MAG) == 0u, zb = (b & ${P}_F64_MAG) == 0u;
    uint64_t ma, mb, q = 0u;
    int16_t ea, eb, e;
    uint8_t i;
    if (ca == 2u || cb == 2u || (ca && cb) || (za && zb)) {
        return ${P}_F64_NAN;
    }
    if (ca || zb) {
        return ((uint64_t)sign << 63) | ${P}_F64_INF;
    }
    if (za || cb) {
        return (uint64_t)sign << 63;
    }
    ma = ${p}_f64_split(a, &ea);
    mb = ${p}_f64_split(b, &eb);
    while (!(ma >> 52)) {
        ma <<= 1;
        --ea;
    }
    while (!(mb >> 52)) {
        mb <<= 1;
        --eb;
    }
    e = (int16_t)(ea - eb + 1023);
    if (ma < mb) {
        ma <<= 1;
        --e;
    }
    for (i = 0; i < 56u; ++i) { /* the leading one, 52 more bits and three guard bits */
        q <<= 1;
        if (ma >= mb) {
            ma -= mb;
            q |= 1u;
        }
        ma <<= 1;
    }
    q |= ma != 0u;
    if (e < 1) { /* subnormal result: denormalise before the one rounding */
        q = ${p}_f64_sticky(q, (int16_t)(1 - e));
        e = 1;
    }
    return ${p}_f64_pack(sign, e, q);
}

/* The binary64 of n (exact). */
${P}_F64_FN uint64_t ${p}_f64_from(uint32_t n)
{
    uint64_t s = n;
    int16_t e = 1075;
    if (n == 0u) {
        return 0u;
    }
    while (!(s >> 52)) {
        s <<= 1;
        --e;
    }
    return ((uint64_t)(e - 1) << 52) + s;
}

/* An integer ordered as the value (-0 and +0 share 0). */
${P}_F64_FN int64_t ${p}_f64_key(uint64_t x)
{
    return (x >> 63) ? -(int64_t)(x & ${P}_F64_MAG) : (int64_t)x;
}
