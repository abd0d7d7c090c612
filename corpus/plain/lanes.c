/* Eight-lane mixing checksum over 16-byte blocks with a running minimum and maximum:
 * more live values than BPF has registers, so the compiler spills the block pointer
 * and the end pointer to the stack and reloads them inside the loop. */
#include "corpus.h"

static inline u64 rotl(u64 x, int k)
{
    return x << k | x >> (64 - k);
}

PROGRAM
{
    const u8 *p = mem;
    const u8 *end = mem + len;
    u64 a0 = 1, a1 = 2, a2 = 3, a3 = 4, a4 = 5, a5 = 6, a6 = 7, a7 = 8;
    u64 lo = ~0ULL, hi = 0;
    while (end - p >= 16) {
        u64 w0 = p[0] | p[1] << 8, w1 = p[2] | p[3] << 8;
        u64 w2 = p[4] | p[5] << 8, w3 = p[6] | p[7] << 8;
        u64 w4 = p[8] | p[9] << 8, w5 = p[10] | p[11] << 8;
        u64 w6 = p[12] | p[13] << 8, w7 = p[14] | p[15] << 8;
        a0 = rotl(a0 + w0, 5) ^ a7;
        a1 = rotl(a1 + w1, 7) ^ a0;
        a2 = rotl(a2 + w2, 11) ^ a1;
        a3 = rotl(a3 + w3, 13) ^ a2;
        a4 = rotl(a4 + w4, 17) ^ a3;
        a5 = rotl(a5 + w5, 19) ^ a4;
        a6 = rotl(a6 + w6, 23) ^ a5;
        a7 = rotl(a7 + w7, 29) ^ a6;
        u64 m = w0 ^ w7;
        lo = m < lo ? m : lo;
        hi = m > hi ? m : hi;
        p += 16;
    }
    u64 tail = 0;
    while (p < end)
        tail = tail * 257 + *p++;
    return a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7 ^ (lo << 32) ^ hi ^ tail;
}
