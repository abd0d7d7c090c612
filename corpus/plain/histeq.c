/* Histogram equalisation of 8-bit samples in 64 bins (a sample's top six bits): the
 * counts, turned into their running sums in place, then each sample mapped through its
 * bin's share of the whole (a division by the count of samples, a register) and summed
 * with its position as weight.  Returns that sum and the fullest bin. */
#include "corpus.h"

#define BINS 64

PROGRAM
{
    u32 count[BINS];
    if (len == 0)
        return 0;
    u64 n = len > 65536 ? 65536 : len;
    for (u32 b = 0; b < BINS; b++)
        count[b] = 0;
    for (u64 i = 0; i < n; i++)
        count[mem[i] >> 2]++;
    u32 run = 0, fullest = 0;
    for (u32 b = 0; b < BINS; b++) {
        if (count[b] > count[fullest])
            fullest = b;
    }
    for (u32 b = 0; b < BINS; b++) {
        run += count[b];
        count[b] = run;
    }
    u64 sum = 0;
    for (u64 i = 0; i < n; i++) {
        u32 v = (u32)((u64)count[mem[i] >> 2] * 255 / n);
        sum += v * (i + 1);
    }
    return sum ^ (u64)fullest << 56;
}
