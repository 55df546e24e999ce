/* Walk tree t and return the leaf row it reaches. Records hold decision nodes only, in
 * preorder from ${p}_root[t]: a node's left child is the next record, its right child
 * c + 1 records ahead, where c counts the decision nodes of its left subtree (c == 0:
 * the left child is a leaf). Leaves are numbered left to right from ${start}, so
 * going right skips the left subtree's c + 1 leaves; flag ${rleaf} of k marks a right
 * child that is a leaf. */
static ${qual} ${row_t} ${p}_walk(${tt_t} t, const ${in_t} *features)
{
    ${idx_t} r = ${read_root};
    ${lidx_t} n = ${start};
    for (;;) {
        ${fields}
        ${key_t} x = ${value};
        uint8_t left;
        ${test}
        if (left) {
            if (${c_zero}) {
                return ${leaf_row};
            }
            ++r;
        } else {
            n = (${lidx_t})(n + ${c_val} + 1u);
            if (k & ${rleaf}) {
                return ${leaf_row};
            }
            r = (${idx_t})(r + ${c_val} + 1u);
        }
    }
}
