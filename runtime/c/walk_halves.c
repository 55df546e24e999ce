/* Reads of the record stream: the byte (word) at r, and the one at *r moving *r past it
 * (avr-gcc: lpm with post-increment, one instruction a byte). */
static inline uint8_t ${p}_peek8(${ptr_t}r)
{
    return ${peek8};
}
static inline uint16_t ${p}_peek16(${ptr_t}r)
{
    return (uint16_t)(${p}_peek8(r) | ((uint16_t)${p}_peek8(r + 1u) << 8));
}
#if defined(__GNUC__) && defined(__AVR__)
static inline uint8_t ${p}_next8(${ptr_t}*r)
{
    uint8_t v;
    __asm__ ("lpm %0, Z+" : "=r" (v), "+z" (*r));
    return v;
}
static inline uint16_t ${p}_next16(${ptr_t}*r)
{
    uint16_t v;
    __asm__ ("lpm %A0, Z+\n\tlpm %B0, Z+" : "=r" (v), "+z" (*r));
    return v;
}
#else
static inline uint8_t ${p}_next8(${ptr_t}*r)
{
    uint8_t v = ${p}_peek8(*r);
    ++*r;
    return v;
}
static inline uint16_t ${p}_next16(${ptr_t}*r)
{
    uint16_t v = ${p}_peek16(*r);
    *r += 2;
    return v;
}
#endif

/* Does key(x) <= K (K's halves kh, kl) send float x, whose top byte v points at, left?
 * NaN goes left when flag 1 of b says so. The slow step, for the values the walk's
 * half-word test leaves (negative, 2^127 and above, infinite, NaN): out of line, so that
 * the walk keeps its few values in registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static uint8_t ${p}_slow(const unsigned char *v, int16_t kh, uint16_t kl, uint8_t b)
{
    int32_t x = ${p}_key(*(const float *)(const void *)(v - 3));
    if (x == ${nan_key}) {
        return (uint8_t)(b & 1u);
    }
    return (uint8_t)(x <= (int32_t)(((uint32_t)(uint16_t)kh << 16) | kl));
}

${fast_skip}
/* Where decision record r sends the row: the next record (left) or step bytes on. A
 * non-negative float below 2^127 (top byte under ${fast_top}) compares its upper half h
 * with kh, its lower half with kl only on a tie; other values take ${p}_slow. */
#if defined(${P}_SKIP)
__attribute__((noinline))
#endif
static ${ptr_t}${p}_step(${ptr_t}r, const float *features)
{
    ${fb_t} b = ${read_fb};
    const unsigned char *v = (const unsigned char *)features + (${fb_t})(b | 1u);
    int16_t h, kh = (int16_t)${p}_next16(&r);
    ${step_t} step = ${read_step};
    if (*v < ${fast_top}) {
        h = (int16_t)(((uint16_t)v[0] << 8) | v[-1]);
        if (${fast}) {
            return ${left};
        }
    } else if (${p}_slow(v, kh, ${kl}, (uint8_t)b)) {
        return ${left};
    }
    return r + step;
}

/* Walk one tree's records from r (see emlc/backends/c/walk_halves.py) and return the
 * leaf row it reaches. */
static inline ${row_t} ${p}_walk(${ptr_t}r, const float *features)
{
    for (;;) {
        ${fb_t} b;
        ${skip}
        b = ${peek_fb};
        if (!(b & 2u)) {
            return (${row_t})(((${row_t})(b >> 2) << 8) | ${p}_peek8(r + ${fb_bytes}u));
        }
        r = ${p}_step(r, features);
    }
}
