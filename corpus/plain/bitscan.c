/* Sparse bit sets as 64-bit words: each set bit, found by a de Bruijn multiply into a
 * constant table and cleared with w &= w - 1, adds a weight from a 64-entry table
 * built from the first bytes; a SWAR popcount counts each word's bits. */
#include "corpus.h"

static const u8 debruijn_pos[64] = {
    0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
    62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
    63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
    46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
};

static inline u64 popcount64(u64 x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (x * 0x0101010101010101ull) >> 56;
}

PROGRAM
{
    u8 weight[64];
    for (u32 b = 0; b < 64; b++)
        weight[b] = b < len ? mem[b] : (u8)(b * 37);
    u64 sum = 0, bits = 0;
    for (u64 off = 0; off + 8 <= len && off < 8 * 500; off += 8) {
        u64 w = (u64)get_le32(mem + off) << 32 | get_le32(mem + off + 4);
        w &= w >> 1 | 0x8000000000000000ull;
        bits += popcount64(w);
        while (w) {
            u32 b = debruijn_pos[((w & -w) * 0x03f79d71b4cb0a89ull) >> 58];
            sum += weight[b];
            w &= w - 1;
        }
    }
    return sum << 20 | bits;
}
