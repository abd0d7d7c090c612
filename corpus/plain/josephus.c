/* The Josephus elimination on a ring of up to 200 kept as a successor array: every
 * k-th (k from the first byte) leaves, its predecessor relinked; returns the survivor
 * and a hash of the elimination order. */
#include "corpus.h"

PROGRAM
{
    u8 next[200];
    if (len < 2)
        return 0;
    u32 n = len - 1 < 200 ? len - 1 : 200;
    u32 k = mem[0] % 7 + 1;
    for (u32 i = 0; i < n; i++)
        next[i] = i + 1 < n ? i + 1 : 0;
    u32 prev = n - 1, alive = n;
    u64 hash = 0;
    while (alive > 1) {
        for (u32 s = 1; s < k + mem[1 + prev % n] % 3; s++)
            prev = next[prev];
        u32 out = next[prev];
        next[prev] = next[out];
        hash = hash * 31 + out;
        alive--;
    }
    return (u64)prev << 48 ^ hash;
}
