/* The longest palindrome in a text, by expanding around every centre: two indices
 * walk away from each other, one down to the start and one up to the end.  Returns
 * the length in the low 32 bits and where it starts above them. */
#include "corpus.h"

PROGRAM
{
    u64 best = 0, at = 0;
    if (len > 4096)
        len = 4096;
    for (u64 c = 0; c < len; c++) {
        /* odd lengths: centre c; even lengths: between c - 1 and c */
        for (int even = 0; even < 2; even++) {
            s64 lo = (s64)c - even, hi = c;
            if (lo < 0)
                continue;
            while (lo >= 0 && hi < (s64)len && mem[lo] == mem[hi]) {
                lo--;
                hi++;
            }
            u64 n = hi - lo - 1;
            if (n > best) {
                best = n;
                at = lo + 1;
            }
        }
    }
    return at << 32 | best;
}
