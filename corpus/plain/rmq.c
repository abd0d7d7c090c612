/* Range-minimum queries over a sparse table: row k holds the minimum of every run of
 * 2^k values, built from row k - 1; a query [l, r] reads two overlapping runs of the
 * row its length's logarithm picks, from a table of logarithms built alongside.
 * Input: a count byte, that many 16-bit little-endian values, then (l, r) byte pairs. */
#include "corpus.h"

#define N 32
#define LEVELS 6                        /* 2^5 = 32 <= N < 64 */

PROGRAM
{
    u16 table[LEVELS][N];
    u8 log2[N + 1];
    if (len < 2)
        return 0;
    u32 n = mem[0] % N + 1;
    if (len < 1 + 2 * n)
        return 1;
    for (u32 i = 0; i < n; i++)
        table[0][i] = mem[1 + 2 * i] | mem[2 + 2 * i] << 8;
    log2[1] = 0;
    for (u32 i = 2; i <= n; i++)
        log2[i] = log2[i / 2] + 1;
    for (u32 k = 1; (1u << k) <= n; k++)
        for (u32 i = 0; i + (1u << k) <= n; i++) {
            u16 a = table[k - 1][i], b = table[k - 1][i + (1u << (k - 1))];
            table[k][i] = a < b ? a : b;
        }
    u64 h = n;
    for (u64 off = 1 + 2 * n; off + 2 <= len && off < 8192; off += 2) {
        u32 l = mem[off] % n, r = mem[off + 1] % n;
        if (l > r) {
            u32 t = l;
            l = r;
            r = t;
        }
        u32 k = log2[r - l + 1];
        u16 a = table[k][l], b = table[k][r + 1 - (1u << k)];
        h = h * 131 + (a < b ? a : b);
    }
    return h;
}
