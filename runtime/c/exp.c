/* e^x in ${real}: x = n*ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial, then
 * scaled by 2^n through repeated squaring; no <math.h> needed. */
static inline ${real} ${p}_exp(${real} x)
{
    ${real} r, term, sum, scale;
    int32_t n, i;
    if (x != x) {
        return x;
    }
    if (x > ${max_arg}) {
        scale = ${huge};
        return scale * scale;
    }
    if (x < ${min_arg}) {
        return ${zero};
    }
    n = (int32_t)(x * ${log2e} + (x < ${zero} ? -${half} : ${half}));
    r = (x - (${real})n * ${ln2_hi}) - (${real})n * ${ln2_lo};
    sum = ${one};
    term = ${one};
    for (i = 1; i <= ${terms}; ++i) {
        term = term * r / (${real})i;
        sum += term;
    }
    scale = n < 0 ? ${half} : ${two};
    n = n < 0 ? -n : n;
    while (n != 0) {
        if (n & 1) {
            sum *= scale;
        }
        scale *= scale;
        n >>= 1;
    }
    return sum;
}
