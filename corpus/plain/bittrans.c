/* Transposes 8x8 bit matrices (8 bytes each, a row per byte) by the three-step
 * swap of 4x4, 2x2 and 1x1 blocks on a u64, then counts the set bits of each column
 * (a row of the transpose) into 8 counters on the stack.  Returns a hash of the
 * transposes and the counters. */
#include "corpus.h"

static inline u64 transpose8(u64 x)
{
    u64 t;
    t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAULL;
    x = x ^ t ^ (t << 7);
    t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCULL;
    x = x ^ t ^ (t << 14);
    t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ULL;
    x = x ^ t ^ (t << 28);
    return x;
}

PROGRAM
{
    u32 counts[8] = {0};
    u64 h = 0;
    for (u64 at = 0; at + 8 <= len; at += 8) {
        u64 x = 0;
        for (u32 b = 0; b < 8; b++)
            x |= (u64)mem[at + b] << (8 * b);
        u64 t = transpose8(x);
        h = (h ^ t) * 0x9E3779B97F4A7C15ULL;
        for (u32 row = 0; row < 8; row++) {
            u8 byte = (u8)(t >> (8 * row));
            u32 c = 0;
            while (byte) {
                byte &= byte - 1;
                c++;
            }
            counts[row] += c;
        }
    }
    for (u32 i = 0; i < 8; i++)
        h = h * 131 + counts[i];
    return h;
}
