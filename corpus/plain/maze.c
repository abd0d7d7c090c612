/* Paths through a maze: a width byte (at most 32) and a height byte, then one byte a
 * cell, zero for open.  Counts the monotone paths (right and down steps) from the top
 * left to the bottom right through open cells, modulo 2^61 - 1, with one row of counts
 * on the stack; the cells are indexed with signed ints, as much C does. */
#include "corpus.h"

#define MOD ((1ull << 61) - 1)

PROGRAM
{
    if (len < 2)
        return 0;
    int w = mem[0], h = mem[1];
    if (w == 0 || w > 32 || h == 0 || 2 + w * h > (s64)len)
        return 0;
    const u8 *cells = mem + 2;
    u64 row[32];
    __builtin_memset(row, 0, sizeof row);
    row[0] = cells[0] == 0;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int i = y * w + x;
            if (cells[i] != 0) {
                row[x] = 0;
                continue;
            }
            if (x > 0) {
                u64 s = row[x] + row[x - 1];
                row[x] = s >= MOD ? s - MOD : s;
            }
        }
    }
    return row[w - 1];
}
