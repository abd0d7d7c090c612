/* Enumerates permutations of the first up-to-8 input bytes in lexicographic order
 * with next_permutation (find the pivot from the right, swap with its successor,
 * reverse the suffix), stopping after as many as the input's length allows; sums the
 * inversions of each and a rolling hash of every permutation seen. */
#include "corpus.h"

static inline u32 inversions(const u8 *a, u32 n)
{
    u32 inv = 0;
    for (u32 i = 0; i < n; i++)
        for (u32 j = i + 1; j < n; j++)
            inv += a[i] > a[j];
    return inv;
}

PROGRAM
{
    u8 a[8];
    u32 n = len < 8 ? len : 8;
    if (n < 2)
        return n;
    for (u32 i = 0; i < 8; i++)
        a[i] = i < n ? mem[i] : 0;
    /* insertion sort to start from the smallest permutation */
    for (u32 i = 1; i < n; i++) {
        u8 v = a[i];
        u32 j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
    u64 limit = len * 16, count = 0, inv = 0, h = 0;
    for (;;) {
        count++;
        inv += inversions(a, n);
        for (u32 i = 0; i < n; i++)
            h = h * 31 + a[i];
        if (count >= limit)
            break;
        int i = n - 2;
        while (i >= 0 && a[i] >= a[i + 1])
            i--;
        if (i < 0)
            break;
        int j = n - 1;
        while (a[j] <= a[i])
            j--;
        u8 t = a[i]; a[i] = a[j]; a[j] = t;
        for (int l = i + 1, r = n - 1; l < r; l++, r--) {
            t = a[l]; a[l] = a[r]; a[r] = t;
        }
    }
    return count << 48 ^ inv << 24 ^ h;
}
