/* The slot whose run of ${p}_keys holds key index i: the last s with ${p}_kbase[s] <= i. */
static inline ${s_t} ${p}_slot(${i_t} i)
{
    ${s_t} lo = 0, hi = ${n_slots};
    while ((${s_t})(hi - lo) > 1u) {
        ${s_t} mid = (${s_t})((lo + hi) >> 1);
        if (${read_base} <= i) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}
