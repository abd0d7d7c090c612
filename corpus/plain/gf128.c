/* Reed-Solomon syndromes over GF(2^7) (x^7 + x^3 + 1): log and antilog tables built
 * at run time, then eight syndromes of the 7-bit symbols by Horner's rule, each
 * product through exp[(log a + log b) % 127]. */
#include "corpus.h"

PROGRAM
{
    u8 exp[127], log[128];
    u32 x = 1;
    for (u32 i = 0; i < 127; i++) {
        exp[i] = x;
        log[x] = i;
        x <<= 1;
        if (x & 0x80)
            x ^= 0x89;
    }
    log[0] = 0;
    u8 syn[8];
    for (u32 j = 0; j < 8; j++) {
        u32 s = 0, alpha = exp[j + 1];
        for (u64 i = 0; i < len && i < 1500; i++) {
            u32 prod = s && alpha ? exp[(log[s] + log[alpha]) % 127] : 0;
            s = prod ^ (mem[i] & 0x7f);
        }
        syn[j] = s;
    }
    u64 h = 0;
    for (u32 j = 0; j < 8; j++)
        h = h << 7 | syn[j];
    return h;
}
