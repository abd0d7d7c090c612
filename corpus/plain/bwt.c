/* Inverse Burrows-Wheeler transform of up to 200 4-bit symbols: the first byte is the
 * primary index, the rest the last column; counts, their prefix sums and each row's
 * rank give the LF mapping, which is followed from the primary row. */
#include "corpus.h"

PROGRAM
{
    u8 lf[200];
    u16 count[16] = {}, start[16];
    if (len < 2)
        return 0;
    u32 n = len - 1 < 200 ? len - 1 : 200;
    const u8 *last = mem + 1;
    for (u32 i = 0; i < n; i++)
        count[last[i] & 15]++;
    u32 sum = 0;
    for (u32 c = 0; c < 16; c++) {
        start[c] = sum;
        sum += count[c];
    }
    for (u32 i = 0; i < n; i++)
        lf[i] = start[last[i] & 15]++;
    u32 p = mem[0] % n;
    u64 h = 0;
    for (u32 i = 0; i < n; i++) {
        h = h * 17 + (last[p] & 15);
        p = lf[p];
    }
    return h;
}
