/* Escape times of the Mandelbrot iteration in 4.12 fixed point: each 2-byte pair of
 * the input is a point c, its signed bytes scaled to the square [-2, 2); z = z * z + c
 * runs until |z|^2 reaches 4 or 96 iterations pass.  Products are signed 64-bit,
 * shifted back arithmetically.  No memory but the input: a loop of multiplies whose
 * trip count the data decides.  Returns the total of the escape times and their hash. */
#include "corpus.h"

#define ONE (1 << 12)

PROGRAM
{
    u64 total = 0, hash = 0;
    u64 n = len / 2;
    if (n > 2048)
        n = 2048;
    for (u64 p = 0; p < n; p++) {
        s64 cx = (s64)(s8)mem[2 * p] * 64, cy = (s64)(s8)mem[2 * p + 1] * 64;
        s64 x = 0, y = 0;
        u32 it = 0;
        while (it < 96) {
            s64 xx = (x * x) >> 12, yy = (y * y) >> 12;
            if (xx + yy >= 4 * ONE)
                break;
            s64 xy = (x * y) >> 11;
            x = xx - yy + cx;
            y = xy + cy;
            it++;
        }
        total += it;
        hash = (hash ^ it) * 0x100000001b3ull;
    }
    return total << 32 ^ hash;
}
