/* Dynamic time warping between the two halves of each record: a record is a length
 * byte and that many samples; the first half is warped onto the second, each cell the
 * absolute difference of two samples plus the least of its three neighbours, one row
 * of 32-bit costs kept on the stack and updated in place (the diagonal carried in a
 * variable).  Halves are cut at 48 samples.  Returns the sum of the distances and the
 * record count. */
#include "corpus.h"

#define MAXS 48

HELPER u32 warp(const u8 *a, u32 n, const u8 *b, u32 m)
{
    u32 row[MAXS + 1];
    row[0] = 0;
    for (u32 j = 1; j <= m; j++)
        row[j] = 0xffffff;
    for (u32 i = 1; i <= n; i++) {
        u32 diag = row[0];
        row[0] = 0xffffff;
        for (u32 j = 1; j <= m; j++) {
            u32 d = a[i - 1] > b[j - 1] ? a[i - 1] - b[j - 1] : b[j - 1] - a[i - 1];
            u32 best = min(diag, min(row[j], row[j - 1]));
            diag = row[j];
            row[j] = d + best;
        }
    }
    return row[m];
}

PROGRAM
{
    u64 sum = 0, records = 0, at = 0;
    while (at < len) {
        u32 n = mem[at++];
        if (n > len - at)
            n = len - at;
        u32 na = min(n / 2, MAXS), nb = min(n - n / 2, MAXS);
        if (na && nb)
            sum += warp(mem + at, na, mem + at + n / 2, nb);
        records++;
        at += n;
    }
    return sum << 16 | records;
}
