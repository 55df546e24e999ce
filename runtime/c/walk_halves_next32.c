/* The 32-bit threshold at *r, moving *r past it (low half first). */
static inline uint32_t ${p}_next32(${ptr_t}*r)
{
    uint16_t low = ${p}_next16(r);
    return (uint32_t)low | (uint32_t)${p}_next16(r) << 16;
}
