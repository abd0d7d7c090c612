/* Conway's Life on a 32x32 torus of u32 rows seeded from the input, stepped as many
 * generations as the input's first byte says (up to 32), each cell's neighbours summed
 * by bit-sliced adders across whole rows; returns the live count and a row hash. */
#include "corpus.h"

static inline u32 rotl(u32 x, int k) { return x << k | x >> (32 - k); }

PROGRAM
{
    u32 g[32], h[32];
    for (u32 y = 0; y < 32; y++) {
        u32 v = 0;
        for (u32 b = 0; b < 4; b++) {
            u64 p = (4 * y + b + 1);
            v = v << 8 | (p < len ? mem[p] : 0);
        }
        g[y] = v;
    }
    u32 gens = len ? mem[0] % 33 : 0;
    for (u32 t = 0; t < gens; t++) {
        for (u32 y = 0; y < 32; y++) {
            u32 up = g[(y + 31) & 31], mid = g[y], dn = g[(y + 1) & 31];
            u32 n[8] = { rotl(up, 1), up, rotl(up, 31), rotl(mid, 1), rotl(mid, 31),
                         rotl(dn, 1), dn, rotl(dn, 31) };
            u32 s0 = 0, s1 = 0, s2 = 0;   /* bit-sliced count, saturating at 4+ */
            for (int i = 0; i < 8; i++) {
                u32 c0 = s0 & n[i];
                s0 ^= n[i];
                u32 c1 = s1 & c0;
                s1 ^= c0;
                s2 |= c1;
            }
            h[y] = ~s2 & s1 & (s0 | mid);
        }
        for (u32 y = 0; y < 32; y++)
            g[y] = h[y];
    }
    u64 live = 0, hash = 0;
    for (u32 y = 0; y < 32; y++) {
        u32 x = g[y];
        while (x) { x &= x - 1; live++; }
        hash = hash * 0x9e3779b97f4a7c15ull + g[y];
    }
    return live << 56 ^ hash;
}
