/* Walk one tree's records from record r and return the leaf row it reaches. Record r
 * holds slot | flags in ${p}_kind: slots below ${leaf} test a feature, slot ${leaf} is a leaf
 * record and slot ${leaf} + 1 a jump record. A node's left child is the next record. */
static ${qual} ${row_t} ${p}_walk(${idx_t} r, const ${in_t} *features)
{
    for (;;) {
        ${kind_t} k = ${read_kind};
        ${kind_t} s = (${kind_t})(k & ${slot_mask});
        ${f_t} f;
        ${key_t} x;
        ${left_t} left;
        if (s >= ${leaf}) {
            ${special}
        }
        f = (${f_t})${feature};
        x = ${value};
        ${test}
        if (left) {
            ++r;
        } else {
            ${go_right}
        }
    }
}
