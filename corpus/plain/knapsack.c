/* 0/1 knapsack by dynamic programming over one row, walked downwards so that each
 * item is taken at most once (the textbook in-place form): a capacity byte, then
 * (weight, value) byte pairs.  Returns the best value, the least capacity that
 * reaches it, and the number of items, packed. */
#include "corpus.h"

#define CAP 100

PROGRAM
{
    u32 best[CAP] = {0};
    if (len < 1)
        return 0;
    u32 cap = mem[0] % CAP;
    u64 items = 0;
    for (u64 off = 1; off + 2 <= len && items < 64; off += 2, items++) {
        u32 weight = mem[off] & 63, value = mem[off + 1];
        if (weight == 0) {              /* weighs nothing: every capacity takes it */
            for (u32 w = 0; w <= cap; w++)
                best[w] += value;
            continue;
        }
        for (u32 w = cap; w >= weight; w--) {
            u32 take = best[w - weight] + value;
            if (take > best[w])
                best[w] = take;
        }
    }
    u32 top = best[cap], least = cap;
    while (least > 0 && best[least - 1] == top)
        least--;
    return (u64)top << 32 | least << 8 | items;
}
