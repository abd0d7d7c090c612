/* Flow aggregation into a small table of structs on the stack: each 8-byte input
 * record (4-byte flow key, 2-byte size, 2-byte flags) is hashed to one of 16 entries,
 * and a pointer to that entry is kept while its fields are updated (a counter, a byte
 * sum, the largest size, the flags seen); a collision with another key evicts the old
 * entry into a running hash.  Returns the hash of evicted and remaining entries. */
#include "corpus.h"

#define ENTRIES 16

struct flow {
    u32 key;
    u32 packets;
    u64 bytes;
    u16 largest;
    u16 flags;
    u32 pad;
};

static inline u64 fold(const struct flow *f)
{
    return ((u64)f->key << 32 | f->packets) ^ f->bytes * 31 ^ (u64)f->largest << 16 ^ f->flags;
}

PROGRAM
{
    struct flow table[ENTRIES];
    __builtin_memset(table, 0, sizeof table);
    u64 h = 0;
    for (u64 at = 0; at + 8 <= len; at += 8) {
        u32 key = get_le32(mem + at) | 1;           /* 0 marks an empty entry */
        u16 size = mem[at + 4] | mem[at + 5] << 8;
        u16 flags = mem[at + 6] | mem[at + 7] << 8;
        struct flow *f = &table[(key * 0x9e3779b1u) >> 28];
        if (f->key != key) {
            if (f->key)
                h = (h ^ fold(f)) * 0x100000001b3ull;
            f->key = key;
            f->packets = 0;
            f->bytes = 0;
            f->largest = 0;
            f->flags = 0;
        }
        f->packets++;
        f->bytes += size;
        if (size > f->largest)
            f->largest = size;
        f->flags |= flags;
    }
    for (int i = 0; i < ENTRIES; i++)
        if (table[i].key)
            h = (h ^ fold(&table[i])) * 0x100000001b3ull;
    return h;
}
