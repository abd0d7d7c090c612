/* An open-addressing hash set whose table size is a prime the input picks (the
 * largest of a small list below a requested capacity), probed linearly from
 * `key % size`: the 4-byte keys of the input are inserted until the table is three
 * quarters full.  Returns the size, the keys stored, the duplicates and the longest
 * probe sequence, packed. */
#include "corpus.h"

#define SLOTS 61

static const u32 primes[] = {7, 13, 17, 31, 37, 53, 61};

PROGRAM
{
    u32 table[SLOTS];
    u8 used[SLOTS] = {0};
    if (len < 1)
        return 0;
    u32 size = primes[0];
    for (u32 i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
        if (primes[i] <= mem[0])
            size = primes[i];
    u32 stored = 0, duplicates = 0, longest = 0;
    for (u64 off = 1; off + 4 <= len && stored * 4 < size * 3; off += 4) {
        u32 key = get_le32(mem + off);
        u32 slot = key % size, probes = 0;
        while (used[slot] && table[slot] != key) {
            slot = slot + 1 == size ? 0 : slot + 1;
            probes++;
        }
        if (used[slot]) {
            duplicates++;
            continue;
        }
        used[slot] = 1;
        table[slot] = key;
        stored++;
        if (probes > longest)
            longest = probes;
    }
    return (u64)size << 48 | (u64)stored << 32 | duplicates << 16 | longest;
}
