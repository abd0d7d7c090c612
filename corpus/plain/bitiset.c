/* Iterating the set bits of 32-bit words: each input word is a set, walked lowest bit
 * first with the index of the lowest set bit found by a de Bruijn multiply and a
 * 32-entry table in read-only data (`m & -m`, times the sequence, top five bits), the
 * bit cleared by `m &= m - 1`; each index bumps a counter in a 32-entry stack array
 * and is weighted into a hash.  Returns the hash, the total number of bits and the
 * index seen most often. */
#include "corpus.h"

static const u8 debruijn[32] = {
    0, 1, 28, 2, 29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4, 8,
    31, 27, 13, 23, 21, 19, 16, 7, 26, 12, 18, 6, 11, 5, 10, 9};

PROGRAM
{
    u32 seen[32];
    for (int i = 0; i < 32; i++)
        seen[i] = 0;
    u64 h = 0, bits = 0;
    for (u64 at = 0; at + 4 <= len; at += 4) {
        u32 m = get_le32(mem + at);
        u32 rank = 0;
        while (m) {
            u32 i = debruijn[((m & -m) * 0x077CB531u) >> 27];
            seen[i]++;
            h = (h + (u64)(i + 1) * (rank + 1)) * 0x9e3779b97f4a7c15ull;
            rank++;
            m &= m - 1;
        }
        bits += rank;
    }
    u32 best = 0;
    for (u32 i = 1; i < 32; i++)
        if (seen[i] > seen[best])
            best = i;
    return h ^ bits << 40 ^ best;
}
