/* Morse decoding by walking the code tree stored as a heap in .rodata: each input byte
 * is one letter, its top three bits the number of signals (at most five), its low bits
 * the dots and dashes; a dot goes to child 2i+1, a dash to 2i+2. */
#include "corpus.h"

static const char tree[63] =
    " ETIANMSURWDKGOHVF?L?PJBXCYZQ??54?3???2???????16???????7???8?90";

PROGRAM
{
    u32 letters[27] = {0};
    u32 unknown = 0;
    for (u64 i = 0; i < len; i++) {
        u8 b = mem[i];
        u32 signals = b >> 5;
        if (signals > 5)
            signals = 5;
        u32 node = 0;
        for (u32 s = 0; s < signals; s++)
            node = 2 * node + 1 + (b >> s & 1);
        char c = tree[node];
        if (c >= 'A' && c <= 'Z')
            letters[c - 'A']++;
        else if (c >= '0' && c <= '9')
            letters[26]++;
        else
            unknown++;
    }
    u64 h = unknown;
    for (u32 k = 0; k < 27; k++)
        h = h * 131 + letters[k];
    return h;
}
