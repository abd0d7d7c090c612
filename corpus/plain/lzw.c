/* LZW compression with a small dictionary searched linearly: codes 0-255 are bytes,
 * new strings take 256 on up (prefix code and byte packed in one word), the dictionary
 * starts over when full; the emitted codes are hashed, not stored. */
#include "corpus.h"

#define DICT 100

PROGRAM
{
    u32 keys[DICT];
    u32 used = 0;
    u64 h = 0xcbf29ce484222325ull, codes = 0;
    if (len == 0)
        return 0;
    u32 w = mem[0];
    for (u64 i = 1; i < len; i++) {
        u32 key = w << 8 | mem[i];
        u32 found = 0;
        for (u32 j = 0; j < used; j++) {
            if (keys[j] == key) {
                found = 256 + j;
                break;
            }
        }
        if (found) {
            w = found;
            continue;
        }
        h = (h ^ w) * 0x100000001b3ull;
        codes++;
        if (used == DICT)
            used = 0;
        keys[used++] = key;
        w = mem[i];
    }
    h = (h ^ w) * 0x100000001b3ull;
    return h ^ (codes + 1) << 56;
}
