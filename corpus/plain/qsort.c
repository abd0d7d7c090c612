/* Quicksort without recursion: up to 256 bytes copied into a stack array (each XORed
 * with the count, which keeps clang from making the copy a memcpy), ranges kept on an
 * explicit stack of (lo, hi) pairs, Hoare partitioning around the middle element, the
 * larger part pushed and the smaller done first (so 16 slots suffice); short ranges by
 * insertion sort.  Returns a position-weighted hash of the sorted bytes. */
#include "corpus.h"

PROGRAM
{
    u8 a[256];
    s32 lo_stack[16], hi_stack[16];
    u32 n = min(len, 256);
    for (u32 i = 0; i < n; i++)
        a[i] = mem[i] ^ (u8)n;
    int sp = 0;
    s32 lo = 0, hi = (s32)n - 1;
    for (;;) {
        while (hi - lo > 8) {
            u8 pivot = a[(lo + hi) >> 1];
            s32 i = lo - 1, j = hi + 1;
            for (;;) {
                do i++; while (a[i] < pivot);
                do j--; while (a[j] > pivot);
                if (i >= j)
                    break;
                u8 t = a[i]; a[i] = a[j]; a[j] = t;
            }
            /* [lo, j] and [j + 1, hi]: push the larger */
            if (j - lo > hi - j - 1) {
                lo_stack[sp] = lo; hi_stack[sp] = j; sp++;
                lo = j + 1;
            } else {
                lo_stack[sp] = j + 1; hi_stack[sp] = hi; sp++;
                hi = j;
            }
        }
        for (s32 i = lo + 1; i <= hi; i++) {
            u8 v = a[i];
            s32 j = i - 1;
            while (j >= lo && a[j] > v) {
                a[j + 1] = a[j];
                j--;
            }
            a[j + 1] = v;
        }
        if (sp == 0)
            break;
        sp--;
        lo = lo_stack[sp];
        hi = hi_stack[sp];
    }
    u64 h = n;
    for (u32 i = 0; i < n; i++)
        h = h * 31 + a[i] * (i + 1);
    return h;
}
