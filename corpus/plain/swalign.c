/* Smith-Waterman local alignment scores: the input is split at its first NUL into a
 * query (at most 64 bytes) and a text scanned in windows of 64; each window is aligned
 * against the query with a match of +3, a mismatch of -3 and a gap of -2, the score of
 * a cell the greatest of zero and its three moves, two rows of signed 16-bit scores on
 * the stack, cleared and copied whole (constant sizes, which clang writes out as
 * stores for BPF).  Returns the best score of each window folded together. */
#include "corpus.h"

#define QMAX 64
#define WIN 64

HELPER int align(const u8 *q, int n, const u8 *t, int m)
{
    s16 prev[QMAX + 1], cur[QMAX + 1];
    int best = 0;
    for (int j = 0; j <= QMAX; j++)
        prev[j] = 0;
    for (int i = 1; i <= m; i++) {
        cur[0] = 0;
        for (int j = 1; j <= n; j++) {
            int s = prev[j - 1] + (t[i - 1] == q[j - 1] ? 3 : -3);
            int up = prev[j] - 2, left = cur[j - 1] - 2;
            if (up > s)
                s = up;
            if (left > s)
                s = left;
            if (s < 0)
                s = 0;
            cur[j] = s;
            if (s > best)
                best = s;
        }
        for (int j = 0; j <= QMAX; j++)
            prev[j] = cur[j];
    }
    return best;
}

PROGRAM
{
    u64 q = 0;
    while (q < len && q < QMAX && mem[q] != 0)
        q++;
    if (q == 0 || q >= len)
        return 0;
    u64 h = 0;
    for (u64 at = q + 1; at < len; at += WIN) {
        u64 m = min(len - at, WIN);
        h = h * 131 + align(mem, q, mem + at, m);
    }
    return h;
}
