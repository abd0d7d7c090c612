/* A 3x3 binomial blur (1-2-1 by 1-2-1, divided by 16) over the inner cells of a
 * grey image: a little-endian 16-bit width and height, then a byte a pixel, row by
 * row.  Every pixel is addressed by a 32-bit index `y * w + x`, as image code does;
 * returns the blurred pixels folded into a hash and their sum. */
#include "corpus.h"

PROGRAM
{
    if (len < 4)
        return 0;
    u32 w = mem[0] | mem[1] << 8, h = mem[2] | mem[3] << 8;
    if (w < 3 || h < 3 || 4 + (u64)w * h > len)
        return 0;
    const u8 *img = mem + 4;
    u64 hash = 14695981039346656037ull, total = 0;
    for (u32 y = 1; y + 1 < h; y++) {
        for (u32 x = 1; x + 1 < w; x++) {
            u32 i = y * w + x;
            u32 v = img[i - w - 1] + 2 * img[i - w] + img[i - w + 1]
                  + 2 * img[i - 1] + 4 * img[i] + 2 * img[i + 1]
                  + img[i + w - 1] + 2 * img[i + w] + img[i + w + 1];
            v >>= 4;
            total += v;
            hash = (hash ^ v) * 1099511628211ull;
        }
    }
    return hash ^ total << 40;
}
