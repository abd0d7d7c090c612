/* Squares polynomials with a number-theoretic transform modulo 998244353 (a prime
 * with 3 as a primitive root): each 32-byte chunk of the input is a polynomial of
 * degree 31, transformed (bit-reversal permutation, then butterflies of growing
 * length), squared point by point, and transformed back.  Returns a hash of every
 * product's coefficients. */
#include "corpus.h"

#define MOD 998244353u
#define N 64

static inline u32 mulmod(u32 a, u32 b)
{
    return (u64)a * b % MOD;
}

HELPER u32 powmod(u32 base, u32 e)
{
    u32 r = 1;
    while (e) {
        if (e & 1)
            r = mulmod(r, base);
        base = mulmod(base, base);
        e >>= 1;
    }
    return r;
}

HELPER void transform(u32 *a, int invert)
{
    for (u32 i = 1, j = 0; i < N; i++) {
        u32 bit = N >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            u32 t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
    for (u32 len = 2; len <= N; len <<= 1) {
        u32 w = powmod(3, (MOD - 1) / len);
        if (invert)
            w = powmod(w, MOD - 2);
        for (u32 i = 0; i < N; i += len) {
            u32 wn = 1;
            for (u32 j = 0; j < len / 2; j++) {
                u32 u = a[i + j], v = mulmod(a[i + j + len / 2], wn);
                a[i + j] = u + v < MOD ? u + v : u + v - MOD;
                a[i + j + len / 2] = u >= v ? u - v : u + MOD - v;
                wn = mulmod(wn, w);
            }
        }
    }
    if (invert) {
        u32 inverse = powmod(N, MOD - 2);
        for (u32 i = 0; i < N; i++)
            a[i] = mulmod(a[i], inverse);
    }
}

PROGRAM
{
    u32 a[N];
    u64 h = 0;
    for (u64 base = 0; base < len && base < 2048; base += N / 2) {
        for (u32 i = 0; i < N; i++)
            a[i] = i < N / 2 && base + i < len ? mem[base + i] : 0;
        transform(a, 0);
        for (u32 i = 0; i < N; i++)
            a[i] = mulmod(a[i], a[i]);
        transform(a, 1);
        for (u32 i = 0; i < N; i++)
            h = h * 1000003 + a[i];
    }
    return h;
}
