/* A histogram on the stack: 64 buckets of the buffer's bytes (top 6 bits),
 * indexed with a masked value; returns a weighted sum of the counts. */
#include "bench.h"

ENTRY
{
    u32 buckets[64];
    for (int i = 0; i < 64; i++)
        buckets[i] = 0;
    for (u64 i = 0; i < len; i++)
        buckets[(mem[i] >> 2) & 63]++;
    u64 acc = 0;
    for (int i = 0; i < 64; i++)
        acc = acc * 33 + buckets[i];
    return acc;
}
