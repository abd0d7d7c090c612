/* Records of a packed big-endian format: a 16-bit kind, a 32-bit id and a 16-bit
 * value at unaligned offsets (8 bytes a record, read through a packed struct, as
 * network code reads a header), folded per kind into four running sums. */
#include "corpus.h"

struct __attribute__((packed)) record {
    u16 kind;
    u32 id;
    u16 value;
};

PROGRAM
{
    u64 sums[4] = {0};
    u64 n = len / sizeof(struct record);
    const struct record *r = (const struct record *)(mem + (len & 1));
    if ((len & 1) && n * sizeof(struct record) + 1 > len)
        n--;
    for (u64 i = 0; i < n; i++) {
        u16 kind = __builtin_bswap16(r[i].kind);
        u32 id = __builtin_bswap32(r[i].id);
        u16 value = __builtin_bswap16(r[i].value);
        sums[kind & 3] = sums[kind & 3] * 31 + (id ^ value);
    }
    return sums[0] ^ sums[1] << 1 ^ sums[2] << 2 ^ sums[3] << 3;
}
