/* Number theory on little-endian u32 pairs: the gcd by Euclid's remainders, the
 * integer square root of their product's high part by Newton's iteration, and the
 * count of trailing zero bits of the lcm; loops whose trip counts the data decide and
 * divisions by values read from the buffer.  Returns a hash. */
#include "corpus.h"

HELPER u32 isqrt(u64 x)
{
    if (x < 2)
        return (u32)x;
    u64 r = x, y = (x + 1) / 2;
    while (y < r) {
        r = y;
        y = (r + x / r) / 2;
    }
    return (u32)r;
}

PROGRAM
{
    u64 h = 7;
    for (u64 at = 0; at + 8 <= len; at += 8) {
        u32 a = get_le32(mem + at), b = get_le32(mem + at + 4);
        u32 x = a, y = b;
        while (y) {
            u32 t = x % y;
            x = y;
            y = t;
        }
        u64 lcm = x ? (u64)a / x * b : 0;
        u32 tz = 0;
        while (lcm && !(lcm & 1) && tz < 64) {
            lcm >>= 1;
            tz++;
        }
        h = h * 1000003 + x + ((u64)isqrt(((u64)a * b) >> 16) << 20) + tz;
    }
    return h;
}
