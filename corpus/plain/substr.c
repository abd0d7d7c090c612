/* Naive substring search with nested loops: the first byte gives the needle's length
 * (1-16), the needle follows, and the rest is the haystack.  Counts matches and
 * remembers the first and last positions. */
#include "corpus.h"

PROGRAM
{
    if (len < 2)
        return 0;
    u32 m = mem[0] % 16 + 1;
    if (1 + m > len)
        return 0;
    const u8 *needle = mem + 1;
    const u8 *hay = mem + 1 + m;
    u64 n = len - 1 - m;
    u64 count = 0, first = ~0ULL, last = 0;
    for (u64 i = 0; i + m <= n; i++) {
        u32 j = 0;
        while (j < m && hay[i + j] == needle[j])
            j++;
        if (j == m) {
            count++;
            if (first == ~0ULL)
                first = i;
            last = i;
        }
    }
    return count << 48 ^ first << 24 ^ last;
}
