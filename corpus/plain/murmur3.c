/* MurmurHash3 (x86, 32-bit) of the input and of its three shorter prefixes, so that
 * every tail length is taken: four-byte blocks mixed by multiply and rotate, then the
 * tail by a switch whose cases fall through. */
#include "corpus.h"

static inline u32 rotl32(u32 x, u32 r)
{
    return x << r | x >> (32 - r);
}

static u32 murmur3(const u8 *p, u64 n, u32 seed)
{
    const u32 c1 = 0xcc9e2d51, c2 = 0x1b873593;
    u32 h = seed;
    u64 blocks = n / 4;
    for (u64 i = 0; i < blocks; i++) {
        u32 k = get_le32(p + 4 * i);
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64;
    }
    const u8 *tail = p + 4 * blocks;
    u32 k = 0;
    switch (n & 3) {
    case 3:
        k ^= tail[2] << 16;
    case 2:
        k ^= tail[1] << 8;
    case 1:
        k ^= tail[0];
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (u32)n;
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;
    return h;
}

PROGRAM
{
    u64 h = 0;
    for (u32 cut = 0; cut < 4 && cut <= len; cut++)
        h = h << 16 ^ h >> 48 ^ murmur3(mem, len - cut, cut * 0x9747b28c);
    return h;
}
