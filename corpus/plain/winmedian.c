/* A running median over a sliding window of the last 15 input bytes: the window kept
 * sorted in an array, each new byte inserted by shifting the larger ones up, the
 * byte leaving found and removed by shifting down; the median is the middle entry.
 * Returns a hash of the medians. */
#include "corpus.h"

#define W 15

PROGRAM
{
    u8 sorted[W];
    u32 count = 0;
    u64 h = 0;
    for (u64 i = 0; i < len && i < 16384; i++) {
        if (count == W) {               /* drop mem[i - W] */
            u8 old = mem[i - W];
            u32 at = 0;
            while (at < count - 1 && sorted[at] != old)
                at++;
            for (u32 k = at; k + 1 < count; k++)
                sorted[k] = sorted[k + 1];
            count--;
        }
        u8 v = mem[i];
        u32 k = count;
        while (k > 0 && sorted[k - 1] > v) {
            sorted[k] = sorted[k - 1];
            k--;
        }
        sorted[k] = v;
        count++;
        h = h * 31 + sorted[count / 2];
    }
    return h;
}
