/* Distinct 3-byte shingles of a buffer, counted in an open-addressing hash set of 64
 * slots on the stack (linear probing, a multiplicative hash, the slot index masked);
 * when the set is three quarters full it is emptied and a generation counted.
 * Returns generations << 32 | distinct shingles in the last generation + all before. */
#include "corpus.h"

#define SLOTS 64

PROGRAM
{
    u32 keys[SLOTS];
    __builtin_memset(keys, 0, sizeof keys);
    u32 used = 0, total = 0, generations = 0;
    for (u64 i = 0; i + 3 <= len; i++) {
        u32 key = (mem[i] | mem[i + 1] << 8 | mem[i + 2] << 16) + 1;
        u32 slot = (key * 2654435761u) >> 26;
        while (keys[slot] != 0 && keys[slot] != key)
            slot = (slot + 1) & (SLOTS - 1);
        if (keys[slot] == 0) {
            keys[slot] = key;
            used++;
            total++;
            if (used * 4 >= SLOTS * 3) {
                __builtin_memset(keys, 0, sizeof keys);
                used = 0;
                generations++;
            }
        }
    }
    return (u64)generations << 32 | total;
}
