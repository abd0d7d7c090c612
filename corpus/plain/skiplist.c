/* A four-level skip list of up to 63 u16 keys in index arrays (node 0 the head, level
 * from a hash of the key), built from the input's first half and probed with the
 * second; returns the hits and the total steps the searches took. */
#include "corpus.h"

#define LEVELS 4
#define NODES 64

PROGRAM
{
    u16 key[NODES];
    u8 next[LEVELS][NODES];
    for (int l = 0; l < LEVELS; l++)
        next[l][0] = 0;
    key[0] = 0;
    u32 used = 1;
    u64 half = len / 2 & ~1ull;
    for (u64 p = 0; p + 1 < half && used < NODES; p += 2) {
        u16 k = get_be16(mem + p);
        u8 update[LEVELS];
        u32 x = 0;
        for (int l = LEVELS - 1; l >= 0; l--) {
            while (next[l][x] && key[next[l][x]] < k)
                x = next[l][x];
            update[l] = x;
        }
        u32 y = next[0][x];
        if (y && key[y] == k)
            continue;
        u32 h = (k * 0x9e37u) >> 8;
        u32 lv = 1;
        while (lv < LEVELS && (h & 3) == 0) {
            lv++;
            h >>= 2;
        }
        u32 z = used++;
        key[z] = k;
        for (u32 l = 0; l < lv; l++) {
            next[l][z] = next[l][update[l]];
            next[l][update[l]] = z;
        }
        for (u32 l = lv; l < LEVELS; l++)
            next[l][z] = 0;
    }
    u64 hits = 0, steps = 0;
    for (u64 p = half; p + 1 < len; p += 2) {
        u16 k = get_be16(mem + p);
        u32 x = 0;
        for (int l = LEVELS - 1; l >= 0; l--) {
            while (next[l][x] && key[next[l][x]] < k) {
                x = next[l][x];
                steps++;
            }
        }
        u32 y = next[0][x];
        hits += y && key[y] == k;
    }
    return hits << 32 | steps;
}
