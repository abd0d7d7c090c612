/* The Z-function of the input after its first byte (at most 225 bytes of it): z[i] is
 * the length of the longest common prefix of the text and its suffix at i, computed
 * with the [l, r) window of the rightmost match so far, over a u16 array on the stack.
 * The text's first m bytes (m from the first input byte, 1 to 24) are a pattern: the
 * result counts the positions past it whose z reaches m, and sums every z. */
#include "corpus.h"
#define MAXN 225

PROGRAM
{
    if (len < 2)
        return 0;
    u32 m = mem[0] % 24 + 1;
    const u8 *s = mem + 1;
    u32 n = len - 1 < MAXN ? len - 1 : MAXN;
    if (m >= n)
        return 1;
    u16 z[MAXN];
    z[0] = n;
    u32 l = 0, r = 0;
    u64 sum = 0, hits = 0;
    for (u32 i = 1; i < n; i++) {
        u32 k = 0;
        if (i < r)
            k = min((u32)z[i - l], r - i);
        while (i + k < n && s[k] == s[i + k])
            k++;
        z[i] = k;
        if (i + k > r) {
            l = i;
            r = i + k;
        }
        sum += k;
        if (i >= m && k >= m)
            hits++;
    }
    return hits << 32 | sum;
}
