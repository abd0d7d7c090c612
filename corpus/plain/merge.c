/* Bottom-up merge sort of up to 64 u16 keys on the stack: runs of width 1, 2, 4, ...
 * are merged pairwise into a second array (three indices: i in the left run, j in the
 * right run, k = the output position) and the arrays swap roles by pointer.  Returns
 * a hash of the sorted keys. */
#include "corpus.h"

#define N 64

PROGRAM
{
    u16 a[N], b[N];
    u32 n = len / 2 < N ? (u32)(len / 2) : N;
    for (u32 i = 0; i < n; i++)
        a[i] = (u16)(mem[2 * i] | mem[2 * i + 1] << 8);
    u16 *src = a, *dst = b;
    for (u32 width = 1; width < n; width *= 2) {
        for (u32 lo = 0; lo < n; lo += 2 * width) {
            u32 mid = min(lo + width, n), hi = min(lo + 2 * width, n);
            u32 i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = src[i] <= src[j] ? src[i++] : src[j++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        u16 *t = src; src = dst; dst = t;
    }
    u64 h = n;
    for (u32 i = 0; i < n; i++)
        h = h * 65599 + src[i];
    return h;
}
