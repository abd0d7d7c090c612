/* Modular arithmetic: for each 16-byte record (base, exponent, modulus, a
 * second number), a square-and-multiply modular power with 64-bit products
 * reduced by division, and Euclid's gcd of the result and the second number. */
#include "bench.h"

NOINLINE u64 power(u64 base, u64 exp, u64 mod)
{
    u64 result = 1 % mod;
    base %= mod;
    while (exp) {
        if (exp & 1)
            result = result * base % mod;
        base = base * base % mod;
        exp >>= 1;
    }
    return result;
}

static u64 gcd(u64 a, u64 b)
{
    while (b) {
        u64 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

ENTRY
{
    u64 acc = 0;
    for (u64 off = 0; off + 16 <= len; off += 16) {
        u32 base = load32(mem + off), exp = load32(mem + off + 4);
        u32 mod = load32(mem + off + 8) | 1, other = load32(mem + off + 12);
        u64 r = power(base, exp & 0xffff, mod);
        acc = acc * 1000003 + r + gcd(r, other);
    }
    return acc;
}
