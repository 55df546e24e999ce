/* Category of a float feature: trunc(x) when -1 < x < ${n_bits} (decided on its key k), else -1. */
static inline int32_t ${p}_category(${real} x, ${key_t} k)
{
    return (k > ${key_minus_one} && k < ${key_n_bits}) ? (int32_t)x : -1;
}
