/* Order-preserving integer key of a ${real}: comparisons of keys equal float comparisons
 * (-0 and +0 share key 0); NaN maps to ${nan_key}, below every real key. */
static inline ${key_t} ${p}_key(${real} x)
{
    union { ${real} f; ${bits_t} u; } b;
    ${bits_t} m;
    b.f = x;
    m = b.u & ${mag_mask};
    if (m > ${inf_bits}) {
        return ${nan_key};
    }
    return (b.u >> ${sign_shift}) ? -(${key_t})m : (${key_t})m;
}
