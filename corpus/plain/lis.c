/* Longest strictly increasing subsequence of the input's 16-bit big-endian words by
 * patience sorting: a stack array holds the least tail of an increasing run of each
 * length, found by a lower-bound binary search over the lengths seen so far and
 * replaced or appended.  Words past 200 are ignored.  Returns the length and a
 * hash of the tails. */
#include "corpus.h"

#define MAXW 200

PROGRAM
{
    u16 tails[MAXW];
    u32 size = 0;
    u64 words = len / 2;
    if (words > MAXW)
        words = MAXW;
    for (u64 w = 0; w < words; w++) {
        u16 x = get_be16(mem + 2 * w);
        u32 lo = 0, hi = size;
        while (lo < hi) {
            u32 mid = lo + (hi - lo) / 2;
            if (tails[mid] < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        tails[lo] = x;
        if (lo == size)
            size++;
    }
    u64 h = size;
    for (u32 i = 0; i < size; i++)
        h = h * 65599 + tails[i];
    return h;
}
