/* Integer Haar wavelet by lifting over up to 112 signed 16-bit samples, level by level
 * on a halving prefix, details stored out of place; the coefficients are quantised
 * and the result is the count of zeros, the energy and a hash of the coefficients. */
#include "corpus.h"

#define N 112

PROGRAM
{
    s16 x[N], c[N];
    u32 n = len / 2 < N ? len / 2 : N;
    for (u32 i = 0; i < n; i++) {
        x[i] = (s16)(mem[2 * i] | mem[2 * i + 1] << 8);
        c[i] = x[i];
    }
    u32 m = n & ~1u;
    while (m >= 2) {
        u32 h = m / 2;
        for (u32 i = 0; i < h; i++) {
            s16 a = x[2 * i], b = x[2 * i + 1];
            s16 d = (s16)(b - a);
            x[i] = (s16)(a + (d >> 1));
            c[h + i] = d;
        }
        c[0] = x[0];
        m = h & ~1u;
    }
    u64 zeros = 0, energy = 0, hash = 0;
    for (u32 i = 0; i < n; i++) {
        s32 v = c[i];
        s32 q = (v + (v >> 31 & 15)) >> 4;
        zeros += q == 0;
        energy += (u64)((s64)q * q);
        hash = (hash ^ (u16)v) * 0x100000001b3ull;
    }
    return zeros << 56 ^ energy << 32 ^ hash;
}
