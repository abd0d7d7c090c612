/* Rabin-Karp search: the first byte is a window width w (1 to 32), the next w bytes the
 * pattern, the rest the text.  A rolling polynomial hash of the last w text bytes is
 * kept by adding the byte that enters and taking out the one that leaves, w bytes
 * back (`text[i - w]`, times B^(w-1)); an equal hash is confirmed byte by byte.
 * Returns the match count, the first and the last match's position. */
#include "corpus.h"

#define B 257ull

PROGRAM
{
    if (len < 2)
        return 0;
    u32 w = mem[0];
    if (w == 0 || w > 32 || 1 + w > len)
        return 0;
    const u8 *pat = mem + 1, *text = mem + 1 + w;
    u64 n = len - 1 - w;
    u64 target = 0, top = 1;
    for (u32 k = 0; k < w; k++) {
        target = target * B + pat[k];
        if (k)
            top *= B;
    }
    u64 h = 0, count = 0, first = ~0ull, last = 0;
    for (u64 i = 0; i < n; i++) {
        if (i >= w)
            h -= text[i - w] * top;
        h = h * B + text[i];
        if (i + 1 < w || h != target)
            continue;
        u64 start = i + 1 - w;
        u32 k = 0;
        while (k < w && text[start + k] == pat[k])
            k++;
        if (k == w) {
            count++;
            if (first == ~0ull)
                first = start;
            last = start;
        }
    }
    return count << 48 ^ first << 24 ^ last;
}
