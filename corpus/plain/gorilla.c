/* Gorilla-style XOR compression of the input read as little-endian u32 samples: each
 * sample XORed with the last, a zero written as one bit, else the leading and trailing
 * zero counts (found by halving) and the meaningful bits, into a bit buffer flushed to
 * a byte array on the stack that is hashed whenever it fills. */
#include "corpus.h"

#define OUT 128

static inline u32 leading_zeros(u32 x)
{
    u32 n = 0;
    if (!(x & 0xffff0000)) { n += 16; x <<= 16; }
    if (!(x & 0xff000000)) { n += 8; x <<= 8; }
    if (!(x & 0xf0000000)) { n += 4; x <<= 4; }
    if (!(x & 0xc0000000)) { n += 2; x <<= 2; }
    if (!(x & 0x80000000)) { n += 1; }
    return n;
}

static inline u32 trailing_zeros(u32 x)
{
    u32 n = 0;
    if (!(x & 0xffff)) { n += 16; x >>= 16; }
    if (!(x & 0xff)) { n += 8; x >>= 8; }
    if (!(x & 0xf)) { n += 4; x >>= 4; }
    if (!(x & 0x3)) { n += 2; x >>= 2; }
    if (!(x & 0x1)) { n += 1; }
    return n;
}

PROGRAM
{
    u8 out[OUT];
    u32 pos = 0, nbits = 0;
    u64 acc = 0, h = 0, total = 0;
    u32 prev = 0;
    for (u64 i = 0; i + 4 <= len; i += 4) {
        u32 x = get_le32(mem + i) & 0xfff0ff0f;
        u32 d = x ^ prev;
        prev = x;
        u32 width;
        u64 code;
        if (!d) {
            code = 0;
            width = 1;
        } else {
            u32 lz = leading_zeros(d), tz = trailing_zeros(d);
            u32 meaningful = 32 - lz - tz;
            code = (u64)2 << 16 | (u64)lz << 11 | (u64)(meaningful - 1) << 6;
            code = code << meaningful | d >> tz;
            width = 18 + meaningful;
        }
        acc = acc << width | code;
        nbits += width;
        total += width;
        while (nbits >= 8) {
            nbits -= 8;
            out[pos++] = acc >> nbits;
            if (pos == OUT) {
                for (u32 k = 0; k < OUT; k += 8)
                    h = (h ^ *(u64 *)(out + k)) * 0x100000001b3ull;
                pos = 0;
            }
        }
    }
    for (u32 k = 0; k < pos; k++)
        h = (h ^ out[k]) * 0x100000001b3ull;
    return h ^ total << 40;
}
