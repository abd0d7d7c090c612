/* Myers' O(ND) edit distance between consecutive 40-byte slices of the input: the
 * furthest-reaching diagonals kept in a signed-offset array; returns the summed
 * distances and the largest one. */
#include "corpus.h"

#define W 40
#define MAXD 80

static int diff(const u8 *a, const u8 *b, int n, int m)
{
    s16 v[2 * MAXD + 3];
    int off = MAXD + 1;
    v[off + 1] = 0;
    for (int d = 0; d <= n + m; d++) {
        for (int k = -d; k <= d; k += 2) {
            int x;
            if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1]))
                x = v[off + k + 1];
            else
                x = v[off + k - 1] + 1;
            int y = x - k;
            while (x < n && y < m && a[x] == b[y]) {
                x++;
                y++;
            }
            v[off + k] = x;
            if (x >= n && y >= m)
                return d;
        }
    }
    return n + m;
}

PROGRAM
{
    u64 total = 0, worst = 0;
    for (u64 p = 0; p + 2 * W <= len; p += 3 * W) {
        int d = diff(mem + p, mem + p + W, W, W);
        total += d;
        if ((u64)d > worst)
            worst = d;
    }
    return total << 16 | worst;
}
