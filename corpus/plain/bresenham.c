/* Draws lines into a 64x48 one-bit raster (48 u64 rows) with Bresenham's integer
 * algorithm, the endpoints taken from the input four bytes at a time (x mod 64, y mod
 * 48), then counts the lit pixels per row with a bit-parallel popcount. */
#include "corpus.h"

static inline u64 popcount(u64 x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (x * 0x0101010101010101ull) >> 56;
}

PROGRAM
{
    u64 rows[48];
    for (int y = 0; y < 48; y++)
        rows[y] = 0;
    for (u64 p = 0; p + 4 <= len; p += 4) {
        int x0 = mem[p] & 63, y0 = mem[p + 1] % 48;
        int x1 = mem[p + 2] & 63, y1 = mem[p + 3] % 48;
        int dx = x1 > x0 ? x1 - x0 : x0 - x1;
        int dy = y1 > y0 ? y0 - y1 : y1 - y0;
        int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
        int err = dx + dy;
        for (;;) {
            rows[y0] |= 1ull << x0;
            if (x0 == x1 && y0 == y1)
                break;
            int e2 = 2 * err;
            if (e2 >= dy) {
                err += dy;
                x0 += sx;
            }
            if (e2 <= dx) {
                err += dx;
                y0 += sy;
            }
        }
    }
    u64 total = 0, h = 0;
    for (int y = 0; y < 48; y++) {
        u64 c = popcount(rows[y]);
        total += c;
        h = h * 67 + c;
    }
    return total << 32 ^ h;
}
