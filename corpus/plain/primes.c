/* Deterministic Miller-Rabin over 32-bit numbers: every 4 bytes of the input are a
 * little-endian odd candidate (its low bit set), tested with the bases 2, 7 and 61
 * (enough below 2^32) by modular exponentiation in 64-bit products; counts and folds
 * the primes found.  Pure arithmetic: multiplications, remainders by a variable
 * modulus and shifts, no memory but the input. */
#include "corpus.h"

static inline u64 mulmod(u64 a, u64 b, u64 m)
{
    return a * b % m;
}

static inline u64 powmod(u64 a, u64 e, u64 m)
{
    u64 r = 1;
    a %= m;
    while (e) {
        if (e & 1)
            r = mulmod(r, a, m);
        a = mulmod(a, a, m);
        e >>= 1;
    }
    return r;
}

static inline int witness(u64 a, u64 n, u64 d, u32 s)
{
    u64 x = powmod(a, d, n);
    if (x == 1 || x == n - 1)
        return 0;
    for (u32 r = 1; r < s; r++) {
        x = mulmod(x, x, n);
        if (x == n - 1)
            return 0;
    }
    return 1;
}

static inline int is_prime(u64 n)
{
    if (n < 2)
        return 0;
    if (n < 4)
        return 1;
    if (!(n & 1))
        return 0;
    u64 d = n - 1;
    u32 s = 0;
    while (!(d & 1)) {
        d >>= 1;
        s++;
    }
    static const u64 bases[3] = {2, 7, 61};
    for (int i = 0; i < 3; i++) {
        u64 a = bases[i];
        if (a % n == 0)
            continue;
        if (witness(a, n, d, s))
            return 0;
    }
    return 1;
}

PROGRAM
{
    u64 h = 0, count = 0;
    for (u64 i = 0; i + 4 <= len && i < 4096; i += 4) {
        u64 n = get_le32(mem + i) | 1;
        if (is_prime(n)) {
            count++;
            h = h * 1000003 ^ n;
        }
    }
    return h ^ count << 48;
}
