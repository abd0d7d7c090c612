/* N-queens by backtracking over bitmasks, without recursion: every byte pair of the
 * input is a board (4 to 8 columns from the first byte) and the columns the first row
 * may use (the second byte; none given means any).  Each depth keeps the columns and
 * both diagonals attacked and the columns still to try, in arrays indexed by the
 * depth; the lowest untried column is taken first.  Returns a fold of the solution
 * counts. */
#include "corpus.h"

#define MAXN 8

static inline u32 solutions(u32 n, u32 first)
{
    u32 full = (1u << n) - 1;
    u32 cols[MAXN], left[MAXN], right[MAXN], avail[MAXN];
    u32 count = 0;
    int d = 0;
    cols[0] = left[0] = right[0] = 0;
    avail[0] = first & full ? first & full : full;
    while (d >= 0) {
        u32 a = avail[d];
        if (!a) {
            d--;
            continue;
        }
        u32 bit = a & -a;
        avail[d] = a & (a - 1);
        if (d == (int)n - 1) {
            count++;
            continue;
        }
        u32 c = cols[d] | bit, l = (left[d] | bit) << 1, r = (right[d] | bit) >> 1;
        d++;
        cols[d] = c;
        left[d] = l;
        right[d] = r;
        avail[d] = full & ~(c | l | r);
    }
    return count;
}

PROGRAM
{
    u64 h = 0;
    for (u64 i = 0; i + 2 <= len && i < 96; i += 2) {
        u32 n = 4 + mem[i] % 5;
        h = h * 1000003 + solutions(n, mem[i + 1]);
    }
    return h;
}
