/* A binary min-heap of 32-bit keys on the stack as a priority queue: each 4-byte word
 * of the input is pushed (sift up); whenever the heap holds 48 keys the 16 smallest
 * are popped (sift down through children 2i+1 and 2i+2) and folded into a hash. */
#include "corpus.h"

#define CAP 64

static inline void sift_down(u32 *h, u32 n)
{
    u32 i = 0;
    for (;;) {
        u32 l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l] < h[m])
            m = l;
        if (r < n && h[r] < h[m])
            m = r;
        if (m == i)
            break;
        u32 t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

PROGRAM
{
    u32 h[CAP];
    u32 n = 0;
    u64 acc = 0, pops = 0;
    for (u64 off = 0; off + 4 <= len && off < 16384; off += 4) {
        u32 i = n++;
        h[i] = get_le32(mem + off);
        while (i > 0) {
            u32 parent = (i - 1) / 2;
            if (h[parent] <= h[i])
                break;
            u32 t = h[i]; h[i] = h[parent]; h[parent] = t;
            i = parent;
        }
        if (n == 48) {
            for (int k = 0; k < 16; k++) {
                acc = acc * 0x100000001b3ull ^ h[0];
                pops++;
                h[0] = h[--n];
                sift_down(h, n);
            }
        }
    }
    while (n > 0) {
        acc = acc * 0x100000001b3ull ^ h[0];
        pops++;
        h[0] = h[--n];
        sift_down(h, n);
    }
    return acc ^ pops;
}
