/* A Fenwick tree (binary indexed tree) of 64 counters on the stack: each input byte
 * adds its high bits plus one at position (byte & 63) + 1, climbing by the lowest set
 * bit (`i += i & -i`), then asks the prefix sum up to the byte's mirror position,
 * descending the same way (`i -= i & -i`).  Returns a hash of the answers. */
#include "corpus.h"

#define N 64

PROGRAM
{
    u32 tree[N + 1];
    for (u32 i = 0; i <= N; i++)
        tree[i] = 0;
    u64 h = 0;
    for (u64 at = 0; at < len; at++) {
        u32 b = mem[at];
        u32 add = (b >> 6) + 1;
        for (u32 i = (b & (N - 1)) + 1; i <= N; i += i & -i)
            tree[i] += add;
        u32 sum = 0;
        for (u32 i = N - (b & (N - 1)); i > 0; i -= i & -i)
            sum += tree[i];
        h = (h ^ sum) * 0x100000001b3ull;
    }
    return h;
}
