/* Walk one tree of the node tables from reference r: r >= 0 is a decision node, r < 0
 * the leaf row ~r. Node r tests feature ${p}_feat[r] & ${feat_mask} against threshold
 * ${p}_thr[r] (a key; for categorical nodes a bitset row) and goes left when the value is
 * <= the threshold. Flag ${flag_nan_left} sends NaN left, ${flag_cat} marks a categorical node. */
static inline ${row_t} ${p}_walk(${ref_t} r, const ${key_t} *v, const ${in_t} *features)
{
    (void)features;
    while (r >= 0) {
        ${feat_t} f = ${read_feat};
        ${key_t} x = v[f & ${feat_mask}];
        uint8_t left;
        ${test}
        r = left ? ${read_left} : ${read_right};
    }
    return (${row_t})~r;
}
