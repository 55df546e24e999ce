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

${fast_skip}
${step}

/* Walk one tree's records from r (see emlc/backends/c/walk_halves.py) and return the
 * leaf row it reaches. */
static inline ${row_t} ${p}_walk(${ptr_t}r, const ${in_t} *features)
{
    for (;;) {
        ${fb_t} b;
${find}
        ${step_call}
    }
}
