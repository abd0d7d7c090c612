/* Quickselect: up to 128 little-endian 16-bit values copied to the stack, then the
 * median found by Lomuto partitioning around the last element of the current range,
 * narrowing [lo, hi] to the side that holds rank k.  The store index trails the scan
 * index, both inside [lo, hi].  Then the lower and upper quartiles the same way, on
 * the partly ordered array.  Returns the three order statistics. */
#include "corpus.h"

#define MAXN 128

static inline u32 select_rank(u16 *a, u32 n, u32 k)
{
    u32 lo = 0, hi = n - 1;
    while (lo < hi) {
        u16 pivot = a[hi];
        u32 store = lo;
        for (u32 i = lo; i < hi; i++) {
            if (a[i] < pivot) {
                u16 t = a[i];
                a[i] = a[store];
                a[store] = t;
                store++;
            }
        }
        u16 t = a[store];
        a[store] = a[hi];
        a[hi] = t;
        if (store == k)
            break;
        if (store < k)
            lo = store + 1;
        else
            hi = store - 1;
    }
    return a[k];
}

PROGRAM
{
    u16 a[MAXN];
    u32 n = len / 2;
    if (n > MAXN)
        n = MAXN;
    if (n == 0)
        return 0;
    for (u32 i = 0; i < n; i++)
        a[i] = mem[2 * i] | mem[2 * i + 1] << 8;
    u64 median = select_rank(a, n, n / 2);
    u64 low = select_rank(a, n, n / 4);
    u64 high = select_rank(a, n, n - 1 - n / 4);
    return median << 32 | low << 16 | high;
}
