/* ChaCha20 keystream over the input: key and nonce from the first 44 bytes (zero
 * where short), then each 64-byte block of the rest XORed with a fresh block of
 * keystream; returns a hash of the ciphertext. */
#include "corpus.h"

#define ROTL(x, k) ((x) << (k) | (x) >> (32 - (k)))
#define QR(a, b, c, d)                                   \
    do {                                                 \
        s[a] += s[b]; s[d] ^= s[a]; s[d] = ROTL(s[d], 16); \
        s[c] += s[d]; s[b] ^= s[c]; s[b] = ROTL(s[b], 12); \
        s[a] += s[b]; s[d] ^= s[a]; s[d] = ROTL(s[d], 8);  \
        s[c] += s[d]; s[b] ^= s[c]; s[b] = ROTL(s[b], 7);  \
    } while (0)

PROGRAM
{
    u32 in[16], s[16];
    in[0] = 0x61707865; in[1] = 0x3320646e; in[2] = 0x79622d32; in[3] = 0x6b206574;
    for (int i = 0; i < 11; i++) {
        u32 w = 0;
        for (int b = 3; b >= 0; b--) {
            u64 p = 4 * i + b;
            w = w << 8 | (p < len ? mem[p] : 0);
        }
        in[i < 8 ? 4 + i : 5 + i] = w;
    }
    in[12] = 1;
    u64 hash = 0xcbf29ce484222325ull;
    u64 pos = 44;
    while (pos < len) {
        for (int i = 0; i < 16; i++)
            s[i] = in[i];
        for (int r = 0; r < 10; r++) {
            QR(0, 4, 8, 12); QR(1, 5, 9, 13); QR(2, 6, 10, 14); QR(3, 7, 11, 15);
            QR(0, 5, 10, 15); QR(1, 6, 11, 12); QR(2, 7, 8, 13); QR(3, 4, 9, 14);
        }
        for (int i = 0; i < 16; i++)
            s[i] += in[i];
        for (int i = 0; i < 64 && pos < len; i++, pos++) {
            u8 k = (u8)(s[i >> 2] >> (8 * (i & 3)));
            hash = (hash ^ (u8)(mem[pos] ^ k)) * 0x100000001b3ull;
        }
        in[12]++;
    }
    return hash;
}
