/* The top byte of key j of slot s: a slot's sorted keys share their top bytes in runs,
 * so keys are stored without it. Runs of slot s end before ${p}_tbase[s + 1]; the
 * first starts at key 0, so the scan back from the last one stops there. */
static inline int8_t ${p}_top(${s_t} s, uint8_t j)
{
    ${e_t} e = (${e_t})(${read_end} - 1u);
    while (${read_start} > j) {
        --e;
    }
    return ${read_top};
}
