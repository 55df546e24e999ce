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
