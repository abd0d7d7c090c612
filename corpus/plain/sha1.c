/* SHA-1's compression function over each 64-byte block of the input (no padding: a
 * trailing partial block is left out): the message schedule kept as a ring of 16 words
 * on the stack indexed by (t + k) & 15, five state words rotated through 80 rounds. */
#include "corpus.h"

static inline u32 rol(u32 x, u32 n)
{
    return x << n | x >> (32 - n);
}

PROGRAM
{
    u32 w[16];
    u32 s[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
    for (u64 off = 0; off + 64 <= len && off < 16384; off += 64) {
        for (int t = 0; t < 16; t++) {
            const u8 *p = mem + off + 4 * t;
            w[t] = (u32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
        }
        u32 a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
        for (u32 t = 0; t < 80; t++) {
            if (t >= 16)
                w[t & 15] = rol(w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^
                                w[t & 15], 1);
            u32 f, k;
            if (t < 20) {
                f = (b & c) | (~b & d);
                k = 0x5a827999;
            } else if (t < 40) {
                f = b ^ c ^ d;
                k = 0x6ed9eba1;
            } else if (t < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8f1bbcdc;
            } else {
                f = b ^ c ^ d;
                k = 0xca62c1d6;
            }
            u32 x = rol(a, 5) + f + e + k + w[t & 15];
            e = d; d = c; c = rol(b, 30); b = a; a = x;
        }
        s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e;
    }
    return (u64)s[0] << 32 ^ (u64)s[1] << 24 ^ (u64)s[2] << 16 ^ (u64)s[3] << 8 ^ s[4];
}
