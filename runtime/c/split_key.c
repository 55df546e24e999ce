/* Stored key i, key i - ${p}_kbase[s] of slot s, kept without its top byte: a slot's
 * sorted keys share their top bytes in runs, run e holding ${p}_ttop[e] from key
 * ${p}_tstart[e] of its slot. Slot s's runs end before ${p}_tbase[s + 1] and its first
 * starts at key 0, so the scan back from its last stops there. Not inline: the walk is
 * copied into each caller, and the key's assembly is long on 8-bit cores. */
static ${key_t} ${p}_split_key(${s_t} s, ${i_t} i)
{
    uint8_t j = (uint8_t)(i - ${read_kbase});
    ${e_t} e = (${e_t})(${read_end} - 1u);
    while (${read_start} > j) {
        --e;
    }
    return (${key_t})(((${wide_t})(uint8_t)${read_top} << ${low_bits}) | ${low});
}
