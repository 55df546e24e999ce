/* hk[f] = feature f's 32-bit order key (-0 and +0 share 0) over 2^16, rounded up (mode
 * bit 2 clear) or down (set): exact for every threshold of f, which all lie on that
 * rounding's 16-bit boundary, so a node tests one int16. NaN is INT16_MIN, or INT16_MAX
 * with mode bit 4 (the side most of f's nodes send NaN). Features without mode bit 1 are
 * not keyed (their nodes read the float). Halves are read as little-endian bytes. */
static void ${p}_halves(const float *features, int16_t *hk)
{
    const unsigned char *b = (const unsigned char *)features;
    ${ft} f;
    for (f = 0; f < ${nf}u; ++f, b += 4) {
        uint8_t mode = ${read_mode};
        uint16_t l = (uint16_t)(((uint16_t)b[1] << 8) | b[0]);
        uint16_t h = (uint16_t)(((uint16_t)b[3] << 8) | b[2]);
        uint16_t m = h & 0x7FFFu;
        int16_t k;
        if (!(mode & 1u)) {
            continue;
        }
        if (m >= 0x7F80u && (m != 0x7F80u || l != 0u)) {
            hk[f] = (mode & 4u) ? INT16_MAX : INT16_MIN;
            continue;
        }
        k = (int16_t)m;
        if (l != 0u && ((h & 0x8000u) ? (mode & 2u) : !(mode & 2u))) {
            ++k;
        }
        hk[f] = (h & 0x8000u) ? (int16_t)-k : k;
    }
}
