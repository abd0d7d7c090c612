/* A bitmap allocator of 512 slots in eight u64 words on the stack: each input byte
 * below 0xc0 allocates (first free slot, found by scanning words and counting
 * trailing ones), each other byte frees slot (byte * 7) & 511; returns the sum of
 * the slots handed out and how many allocations failed. */
#include "corpus.h"

static inline int first_zero(u64 w)
{
    int k = 0;
    while (w & 1) {
        w >>= 1;
        k++;
    }
    return k;
}

PROGRAM
{
    u64 map[8] = {0};
    u64 sum = 0, failed = 0;
    u32 n = min(len, 4096);
    for (u32 i = 0; i < n; i++) {
        u8 b = mem[i];
        if (b < 0xc0) {
            int w = 0;
            while (w < 8 && map[w] == ~0ull)
                w++;
            if (w == 8) {
                failed++;
                continue;
            }
            int bit = first_zero(map[w]);
            map[w] |= 1ull << bit;
            sum += w * 64 + bit;
        } else {
            u32 slot = (b * 7) & 511;
            map[slot >> 6] &= ~(1ull << (slot & 63));
        }
    }
    return sum << 16 | failed;
}
