/* Cuckoo hashing: a set of 32-bit keys in two tables of 32 slots on the stack, each key
 * at one of two places (two multiplicative hashes, the top 5 bits); an insert that
 * finds both taken evicts the occupant and moves it to its other place, up to 16
 * kicks, after which the last evicted key is dropped and counted.  Each 4-byte word of
 * the input is looked up and inserted if absent.  Returns a hash of the tables, the
 * members found again and the keys dropped. */
#include "corpus.h"

#define SLOTS 32
#define KICKS 16

static inline u32 h0(u32 k) { return (k * 0x9e3779b1u) >> 27; }
static inline u32 h1(u32 k) { return ((k ^ 0x5bd1e995u) * 0x85ebca6bu) >> 27; }

PROGRAM
{
    u32 t[2][SLOTS];
    for (int s = 0; s < SLOTS; s++)
        t[0][s] = t[1][s] = 0;
    u64 found = 0, dropped = 0;
    for (u64 off = 0; off + 4 <= len && off < 16384; off += 4) {
        u32 key = get_le32(mem + off) | 1;      /* 0 marks an empty slot */
        if (t[0][h0(key)] == key || t[1][h1(key)] == key) {
            found++;
            continue;
        }
        u32 side = 0;
        for (int kick = 0; kick < KICKS && key; kick++) {
            u32 slot = side ? h1(key) : h0(key);
            u32 old = t[side][slot];
            t[side][slot] = key;
            key = old;
            side ^= 1;
        }
        dropped += key != 0;
    }
    u64 hash = 0;
    for (int side = 0; side < 2; side++)
        for (int s = 0; s < SLOTS; s++)
            hash = (hash ^ t[side][s]) * 0x100000001b3ull;
    return hash ^ found << 48 ^ dropped << 32;
}
