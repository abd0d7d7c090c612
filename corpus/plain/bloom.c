/* A Bloom filter of 2039 bits on the stack: each 8-byte word of the buffer is
 * hashed three times, indices taken modulo the (prime) filter size; the result
 * counts the words that were already present and the bits set. */
#include "corpus.h"

#define BITS 2039

PROGRAM
{
    u8 filter[(BITS + 7) / 8];
    __builtin_memset(filter, 0, sizeof(filter));
    u64 present = 0;
    for (u64 off = 0; off + 8 <= len; off += 8) {
        u64 w = (u64)get_le32(mem + off) << 32 | get_le32(mem + off + 4);
        u64 h1 = w * 0x9e3779b97f4a7c15ULL;
        u64 h2 = (w ^ w >> 31) * 0xbf58476d1ce4e5b9ULL;
        int hit = 1;
        for (int k = 0; k < 3; k++) {
            u32 bit = (h1 + k * h2) % BITS;
            u8 mask = 1 << (bit & 7);
            if (!(filter[bit >> 3] & mask)) {
                hit = 0;
                filter[bit >> 3] |= mask;
            }
        }
        present += hit;
    }
    u64 set = 0;
    for (u32 i = 0; i < sizeof(filter); i++)
        set += __builtin_popcount(filter[i]);
    return present << 32 | set;
}
