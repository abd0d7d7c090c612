/* Manacher's algorithm: the odd palindrome radius at every position of up to 200
 * input bytes, reusing the mirror's radius inside the rightmost palindrome; returns
 * the longest palindrome's centre and length and the number of palindromes. */
#include "corpus.h"

PROGRAM
{
    u16 d[200];
    s32 n = len < 200 ? len : 200;
    s32 l = 0, r = -1;
    u64 count = 0, best = 0, centre = 0;
    for (s32 i = 0; i < n; i++) {
        s32 k = i > r ? 1 : min(d[l + r - i], r - i + 1);
        while (i - k >= 0 && i + k < n && mem[i - k] == mem[i + k])
            k++;
        d[i] = k;
        count += k;
        if ((u64)k > best) {
            best = k;
            centre = i;
        }
        if (i + k - 1 > r) {
            l = i - k + 1;
            r = i + k - 1;
        }
    }
    return centre << 48 ^ best << 32 ^ count;
}
