/* Reservoir sampling of k = 1 + mem[0] % 16 items from the buffer's little-endian u16
 * values, with a xorshift32 generator seeded from the length: item i replaces slot
 * rand % (i + 1) when that is below k.  Then the sample is scored by its spread
 * (max - min) and a weighted sum.  Returns a hash. */
#include "corpus.h"

PROGRAM
{
    if (len < 3)
        return 0;
    u32 k = 1 + mem[0] % 16;
    u16 sample[16];
    u32 state = 0x9e3779b9u ^ (u32)len;
    u32 items = (len - 1) / 2;
    for (u32 i = 0; i < items; i++) {
        u16 v = (u16)(mem[1 + 2 * i] | mem[2 + 2 * i] << 8);
        if (i < k) {
            sample[i] = v;
            continue;
        }
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        u32 j = state % (i + 1);
        if (j < k)
            sample[j] = v;
    }
    u32 filled = items < k ? items : k;
    u16 lo = 0xffff, hi = 0;
    u64 weighted = 0;
    for (u32 i = 0; i < filled; i++) {
        if (sample[i] < lo)
            lo = sample[i];
        if (sample[i] > hi)
            hi = sample[i];
        weighted += (u64)sample[i] * (i + 1);
    }
    return weighted << 16 | (u16)(hi - lo);
}
