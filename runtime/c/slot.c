/* The slot whose run of ${p}_keys holds key index i: ${p}_coarse gives the slot of key
 * index i >> ${step} << ${step}, and the slots after it are passed while their run starts at or before i. */
static inline ${s_t} ${p}_slot(${i_t} i)
{
    ${s_t} s = ${read_coarse};
    while (${read_next} <= i) {
        ++s;
    }
    return s;
}
