/* Adler-32 as zlib computes it: the two sums are reduced modulo 65521 only once every
 * 5552 bytes (the most that cannot overflow 32 bits), in an inner loop unrolled by
 * hand into steps of eight bytes; then a Fletcher-16 of the same bytes beside it. */
#include "corpus.h"

#define BASE 65521u
#define NMAX 5552

PROGRAM
{
    u32 a = 1, b = 0;
    const u8 *p = mem;
    u64 left = len;
    while (left > 0) {
        u32 n = left < NMAX ? left : NMAX;
        left -= n;
        while (n >= 8) {
            a += p[0]; b += a; a += p[1]; b += a;
            a += p[2]; b += a; a += p[3]; b += a;
            a += p[4]; b += a; a += p[5]; b += a;
            a += p[6]; b += a; a += p[7]; b += a;
            p += 8;
            n -= 8;
        }
        while (n--) {
            a += *p++;
            b += a;
        }
        a %= BASE;
        b %= BASE;
    }
    u32 f1 = 0, f2 = 0;
    for (u64 i = 0; i < len; i++) {
        f1 = (f1 + mem[i]) % 255;
        f2 = (f2 + f1) % 255;
    }
    return (u64)(f2 << 8 | f1) << 32 | (b << 16 | a);
}
