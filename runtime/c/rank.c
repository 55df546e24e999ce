/* Rank of a feature value among sorted edge keys ${p}_edges[lo..hi): the number of edges
 * strictly below it (binary search); NaN stays NaN. */
static inline ${key_t} ${p}_rank(${key_t} x, uint16_t lo, uint16_t hi)
{
    uint16_t first = lo;
    ${nan_check}
    while (lo < hi) {
        uint16_t mid = (uint16_t)(lo + (hi - lo) / 2u);
        if (${read_edge} < x) {
            lo = (uint16_t)(mid + 1u);
        } else {
            hi = mid;
        }
    }
    return (${key_t})(lo - first);
}
