/* One step of Conway's Life on a grid in the buffer: the first two bytes give its
 * width and height, then one byte per cell (row by row, nonzero = alive); border cells
 * count as dead neighbours.  Returns the live cells of the next generation, hashed by
 * position. */
#include "corpus.h"

PROGRAM
{
    if (len < 2)
        return 0;
    u32 w = mem[0], h = mem[1];
    if (w == 0 || h == 0 || 2 + (u64)w * h > len)
        return 0;
    const u8 *cells = mem + 2;
    u64 live = 0, hash = 0;
    for (u32 y = 0; y < h; y++) {
        for (u32 x = 0; x < w; x++) {
            u32 around = 0;
            for (int dy = -1; dy <= 1; dy++) {
                for (int dx = -1; dx <= 1; dx++) {
                    if (!dx && !dy)
                        continue;
                    s32 yy = (s32)y + dy, xx = (s32)x + dx;
                    if (yy < 0 || xx < 0 || yy >= (s32)h || xx >= (s32)w)
                        continue;
                    around += cells[yy * w + xx] != 0;
                }
            }
            u32 alive = cells[y * w + x] != 0;
            if (around == 3 || (alive && around == 2)) {
                live++;
                hash = hash * 31 + y * 256 + x;
            }
        }
    }
    return live << 48 ^ hash;
}
