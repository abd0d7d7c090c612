/* Ascii85 decoding: groups of five characters '!'..'u' give a big-endian 32-bit word
 * (base 85, the group's value checked against 2^32 before the last step), 'z' stands
 * for four zero bytes, whitespace is skipped, and a short last group is padded with
 * 'u' and cut.  The bytes go to a 64-byte stack block hashed whenever it fills.
 * Returns the hash, the bytes decoded and the first bad position (0: none). */
#include "corpus.h"

#define BLOCK 64

PROGRAM
{
    u8 out[BLOCK];
    u32 used = 0, group[5], n = 0;
    u64 h = 0, total = 0, bad = 0;
    for (u64 i = 0; i <= len && !bad; i++) {
        u32 c = i < len ? mem[i] : 0;
        if (c == ' ' || c == '\n' || c == '\t')
            continue;
        u32 take = 0;
        u32 word = 0;
        if (c == 'z' && n == 0) {
            take = 4;
        } else if (c >= '!' && c <= 'u') {
            group[n++] = c - '!';
            if (n < 5)
                continue;
            take = 4;
        } else if (i == len && n > 1) {
            take = n - 1;
            while (n < 5)
                group[n++] = 84;
        } else if (i < len) {
            bad = i + 1;
            break;
        }
        if (n == 5) {
            u64 v = 0;
            for (u32 k = 0; k < 5; k++)
                v = v * 85 + group[k];
            if (v > 0xffffffffull) {
                bad = i + 1;
                break;
            }
            word = (u32)v;
        }
        n = 0;
        for (u32 k = 0; k < take; k++) {
            out[used++] = word >> (24 - 8 * k);
            if (used == BLOCK) {
                for (u32 j = 0; j < BLOCK; j++)
                    h = (h ^ out[j]) * 0x100000001b3ull;
                used = 0;
            }
        }
        total += take;
    }
    for (u32 j = 0; j < used; j++)
        h = (h ^ out[j]) * 0x100000001b3ull;
    return h ^ total << 40 ^ bad << 20;
}
