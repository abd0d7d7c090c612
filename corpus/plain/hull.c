/* The convex hull of up to 40 points (signed byte pairs) by Andrew's monotone chain:
 * the points sorted by x then y (insertion sort of indices), then a lower and an
 * upper chain built on a stack of indices that pops while the last turn is not
 * counter-clockwise.  Returns the hull's vertex count and twice its area. */
#include "corpus.h"

#define MAXP 40

static inline s64 cross(const s8 *o, const s8 *a, const s8 *b)
{
    return (s64)(a[0] - o[0]) * (b[1] - o[1]) - (s64)(a[1] - o[1]) * (b[0] - o[0]);
}

PROGRAM
{
    s8 pts[MAXP][2];
    u8 order[MAXP], hull[2 * MAXP + 1];
    u32 n = 0;
    for (u64 off = 0; off + 2 <= len && n < MAXP; off += 2, n++) {
        pts[n][0] = mem[off];
        pts[n][1] = mem[off + 1];
    }
    if (n < 3)
        return n;
    for (u32 i = 0; i < n; i++) {
        u32 j = i;
        while (j > 0) {
            const s8 *p = pts[order[j - 1]], *q = pts[i];
            if (p[0] < q[0] || (p[0] == q[0] && p[1] <= q[1]))
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    u32 k = 0;
    for (u32 i = 0; i < n; i++) {
        while (k >= 2 && cross(pts[hull[k - 2]], pts[hull[k - 1]], pts[order[i]]) <= 0)
            k--;
        hull[k++] = order[i];
    }
    for (u32 i = n - 1, lower = k + 1; i > 0; i--) {
        while (k >= lower && cross(pts[hull[k - 2]], pts[hull[k - 1]], pts[order[i - 1]]) <= 0)
            k--;
        hull[k++] = order[i - 1];
    }
    k--;                                /* the first point closes the chain */
    s64 area = 0;
    for (u32 i = 0; i < k; i++) {
        const s8 *a = pts[hull[i]], *b = pts[hull[i + 1 < k ? i + 1 : 0]];
        area += (s64)a[0] * b[1] - (s64)a[1] * b[0];
    }
    return (u64)k << 32 | (u32)area;
}
