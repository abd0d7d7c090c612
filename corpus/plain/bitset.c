/* The distinct byte values of a buffer as a 256-bit set on the stack (four u64 words),
 * then each set bit visited lowest first (a de Bruijn table finds it), as a scheduler or
 * an allocator walks a free map: returns the sum of value * rank and the count. */
#include "corpus.h"

/* the index of a 64-bit word's lowest set bit, by de Bruijn multiplication */
static const u8 lowest[64] = {
    0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
    62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
    63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
    46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
};

PROGRAM
{
    u64 set[4] = {0};
    for (u64 i = 0; i < len; i++)
        set[mem[i] >> 6] |= 1ull << (mem[i] & 63);
    u64 sum = 0, rank = 0;
    for (int w = 0; w < 4; w++) {
        u64 bits = set[w];
        while (bits) {
            int b = lowest[((bits & -bits) * 0x03f79d71b4cb0a89ull) >> 58];
            sum += (u64)(w * 64 + b) * ++rank;
            bits &= bits - 1;
        }
    }
    return sum << 16 | rank;
}
