/* Column checksums of a matrix stored row by row: a width and a height byte, then
 * one byte a cell.  The walk goes down each column (a stride of one row), as a
 * transpose or a column filter does; each column gets an Adler-like pair of sums and
 * the columns are folded together in order. */
#include "corpus.h"

PROGRAM
{
    if (len < 2)
        return 0;
    u32 w = mem[0], h = mem[1];
    if (w == 0 || h == 0 || 2 + w * h > len)
        return 0;
    const u8 *cells = mem + 2;
    u64 out = 0;
    for (u32 x = 0; x < w; x++) {
        u32 a = 1, b = 0;
        for (u32 y = 0; y < h; y++) {
            a += cells[y * w + x];
            b += a;
        }
        out = out * 1000003 ^ ((u64)(b % 65521) << 16 | a % 65521);
    }
    return out;
}
