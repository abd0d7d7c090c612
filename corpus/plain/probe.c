/* An open-addressing hash set on the stack: 4-byte keys from the input inserted with
 * linear probing under a power-of-two mask (Fibonacci hashing for the home slot); a
 * key seen before counts as a duplicate, and a full table stops the scan. */
#include "corpus.h"

#define SLOTS 64

PROGRAM
{
    u32 table[SLOTS];
    u8 used[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        used[i] = 0;
    u64 inserted = 0, dups = 0, probes = 0;
    for (u64 off = 0; off + 4 <= len; off += 4) {
        u32 key = get_le32(mem + off);
        u32 at = (key * 2654435769u) >> 26;
        for (;;) {
            probes++;
            if (!used[at]) {
                used[at] = 1;
                table[at] = key;
                inserted++;
                break;
            }
            if (table[at] == key) {
                dups++;
                break;
            }
            at = (at + 1) & (SLOTS - 1);
        }
        if (inserted == SLOTS - 1)
            break;
    }
    return inserted | dups << 20 | probes << 40;
}
