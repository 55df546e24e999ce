/* Where decision record r sends the row: the next record (left) when integer feature
 * value x <= k, the record's threshold in the feature's own type, else the right child:
 * step bytes on, or (flag 1 of b: the left child is a leaf, no step field) past that
 * leaf's record. The assembly walk, where there is one, decides every record itself. */
#if !defined(${P}_SKIP)
static ${ptr_t}${p}_step(${ptr_t}r, const ${in_t} *features)
{
    ${fb_t} b = ${read_fb};
    ${in_t} k = (${in_t})${read_k};
    ${step_t} step = (b & 1u) ? (${step_t})${leaf_bytes}u : ${read_step};
    if (features[b >> 2] <= k) {
        return r;
    }
    return r + step;
}
#endif
