/* Boyer-Moore-Horspool search: the first line of the input (at most 16 bytes) is the
 * pattern and the rest the text; a 256-entry table of shifts on the stack says how far
 * the window may jump after each mismatch.  Returns the number of matches and a hash of
 * where they start. */
#include "corpus.h"

PROGRAM
{
    u8 shift[256];
    u64 m = 0;
    while (m < len && m < 16 && mem[m] != '\n')
        m++;
    if (m == 0 || m >= len)
        return 0;
    const u8 *text = mem + m + 1;
    u64 n = len - m - 1;
    for (int c = 0; c < 256; c++)
        shift[c] = (u8)m;
    for (u64 k = 0; k + 1 < m; k++)
        shift[mem[k]] = (u8)(m - 1 - k);
    u64 hits = 0, where = 0;
    for (u64 i = 0; i + m <= n; i += shift[text[i + m - 1]]) {
        u64 j = m;
        while (j > 0 && text[i + j - 1] == mem[j - 1])
            j--;
        if (j == 0) {
            hits++;
            where = where * 31 + i;
        }
    }
    return hits << 32 | (where & 0xffffffff);
}
