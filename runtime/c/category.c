/* Is category c (already truncated; -1 when invalid) in bitset row s of ${p}_sets? */
static inline uint8_t ${p}_member(int32_t c, uint16_t s)
{
    uint32_t word;
    if (c < 0 || c >= ${n_bits}) {
        return 0;
    }
    word = ${read_word};
    return (uint8_t)((word >> (c & 31)) & 1u);
}
