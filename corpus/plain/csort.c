/* A counting sort of up to 128 bytes by their top six bits: counts in 64 buckets, a
 * prefix sum into start positions, then each byte placed at its bucket's next position
 * in a stack array; the sorted bytes are hashed. */
#include "corpus.h"

PROGRAM
{
    u8 counts[64] = {0};
    u8 start[64];
    u8 sorted[128];
    u32 n = len < 128 ? len : 128;
    for (u32 i = 0; i < n; i++)
        counts[mem[i] >> 2]++;
    u32 at = 0;
    for (u32 b = 0; b < 64; b++) {
        start[b] = at;
        at += counts[b];
    }
    for (u32 i = 0; i < n; i++) {
        u8 b = mem[i] >> 2;
        sorted[start[b]++ & 127] = mem[i];
    }
    u64 h = n;
    for (u32 i = 0; i < n; i++)
        h = h * 257 + sorted[i];
    return h;
}
