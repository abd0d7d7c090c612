/* Knuth-Morris-Pratt search: the first line of the input (at most 32 bytes) is the
 * pattern; its failure function goes into a byte table on the stack, and the search
 * falls back through that table (k = fail[k - 1], an index read back from memory)
 * instead of re-reading the text.  Returns the match count and the last match's end. */
#include "corpus.h"

PROGRAM
{
    u8 fail[32];
    u32 m = 0;
    while (m < len && m < 32 && mem[m] != '\n')
        m++;
    if (m == 0 || m >= len)
        return 0;
    fail[0] = 0;
    u32 k = 0;
    for (u32 q = 1; q < m; q++) {
        while (k > 0 && mem[k] != mem[q])
            k = fail[k - 1];
        if (mem[k] == mem[q])
            k++;
        fail[q] = (u8)k;
    }
    u64 hits = 0, last = 0;
    k = 0;
    for (u64 i = m + 1; i < len; i++) {
        while (k > 0 && mem[k] != mem[i])
            k = fail[k - 1];
        if (mem[k] == mem[i])
            k++;
        if (k == m) {
            hits++;
            last = i;
            k = fail[k - 1];
        }
    }
    return hits << 32 | last;
}
