/* Longest common subsequence of two strings by dynamic programming over two rows of
 * 16-bit lengths that trade places after every row (the rows are reached through two
 * pointers swapped, not indexed by parity).  The first byte is the first string's
 * length; each string is cut to 96 bytes.  Returns the length and a hash of the last
 * row. */
#include "corpus.h"

#define MAXS 96

PROGRAM
{
    if (len < 1)
        return 0;
    u64 na = mem[0];
    if (na > len - 1)
        na = len - 1;
    const u8 *a = mem + 1, *b = mem + 1 + na;
    u64 nb = len - 1 - na;
    if (na > MAXS)
        na = MAXS;
    if (nb > MAXS)
        nb = MAXS;
    u16 row0[MAXS + 1], row1[MAXS + 1];
    u16 *prev = row0, *cur = row1;
    __builtin_memset(row0, 0, sizeof row0);
    for (u64 i = 1; i <= na; i++) {
        cur[0] = 0;
        u8 c = a[i - 1];
        for (u64 j = 1; j <= nb; j++) {
            if (b[j - 1] == c)
                cur[j] = prev[j - 1] + 1;
            else
                cur[j] = prev[j] > cur[j - 1] ? prev[j] : cur[j - 1];
        }
        u16 *t = prev; prev = cur; cur = t;
    }
    u64 h = 0;
    for (u64 j = 0; j <= nb; j++)
        h = h * 31 + prev[j];
    return (u64)prev[nb] << 32 | (h & 0xffffffff);
}
