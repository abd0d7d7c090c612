/* Maglev consistent hashing: up to 12 backends named by 4-byte ids from the input
 * fill a 251-entry lookup table by their permutations (offset, skip); then the rest
 * of the input is read as 4-byte flow keys, each hashed and looked up. */
#include "corpus.h"
#define M 251

static inline u32 mix(u32 h)
{
    h ^= h >> 16; h *= 0x7feb352d; h ^= h >> 15; h *= 0x846ca68b; h ^= h >> 16;
    return h;
}

PROGRAM
{
    if (len < 4)
        return 0;
    u32 n = mem[0] % 12 + 1;
    if (len < 4 + 4 * n)
        return 1;
    u8 offset[12], skip[12], next[12];
    u8 table[M];
    for (u32 i = 0; i < 12; i++)
        next[i] = 0;
    for (u32 c = 0; c < M; c++)
        table[c] = 0xff;
    for (u32 i = 0; i < n; i++) {
        u32 id = get_le32(mem + 4 + 4 * i);
        offset[i] = mix(id) % M;
        skip[i] = mix(id ^ 0x9e3779b9) % (M - 1) + 1;
    }
    u32 filled = 0;
    while (filled < M) {
        for (u32 i = 0; i < n && filled < M; i++) {
            u32 c = (offset[i] + (u32)next[i] * skip[i]) % M;
            while (table[c] != 0xff) {
                next[i]++;
                c = (offset[i] + (u32)next[i] * skip[i]) % M;
            }
            table[c] = i;
            next[i]++;
            filled++;
        }
    }
    u64 counts = 0, h = 0;
    for (u64 p = 4 + 4 * n; p + 4 <= len; p += 4) {
        u32 b = table[mix(get_le32(mem + p)) % M];
        counts += 1ull << (4 * b);
        h = h * 131 + b;
    }
    return counts ^ h << 48;
}
