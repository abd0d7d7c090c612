/* A sorted table of up to 24 (key, count) structs on the stack: each 2-byte key of
 * the input is found by binary search; a new key is inserted by shifting the larger
 * entries up one place, back to front, as an array-backed set does.  A full table
 * drops its largest entry first.  Returns a hash of the final table. */
#include "corpus.h"

struct entry { u16 key; u16 count; };

#define SLOTS 24

PROGRAM
{
    struct entry t[SLOTS];
    u32 n = 0;
    for (u64 off = 0; off + 2 <= len && off < 8192; off += 2) {
        u16 key = (u16)(mem[off] | mem[off + 1] << 8);
        u32 lo = 0, hi = n;
        while (lo < hi) {
            u32 mid = (lo + hi) / 2;
            if (t[mid].key < key)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && t[lo].key == key) {
            t[lo].count++;
            continue;
        }
        if (n == SLOTS) {
            n--;
            if (lo > n)
                continue;
        }
        for (u32 j = n; j > lo; j--)
            t[j] = t[j - 1];
        t[lo].key = key;
        t[lo].count = 1;
        n++;
    }
    u64 h = n;
    for (u32 i = 0; i < n; i++)
        h = (h * 31 + t[i].key) * 31 + t[i].count;
    return h;
}
