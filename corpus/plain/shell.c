/* Shell sort with Ciura's gaps, read from a table in read-only data: up to 200 bytes
 * copied to a stack array, then for each gap an insertion sort whose index falls by
 * the gap (`a[j] = a[j - gap]` while `j >= gap`).  The sorted bytes are hashed. */
#include "corpus.h"

static const u16 gaps[] = { 132, 57, 23, 10, 4, 1 };

PROGRAM
{
    u8 a[200];
    u32 n = len < 200 ? (u32)len : 200;
    for (u32 i = 0; i < n; i++)
        a[i] = mem[i] ^ (u8)i;
    for (u32 g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        u32 gap = gaps[g];
        for (u32 i = gap; i < n; i++) {
            u8 v = a[i];
            u32 j = i;
            while (j >= gap && a[j - gap] > v) {
                a[j] = a[j - gap];
                j -= gap;
            }
            a[j] = v;
        }
    }
    u64 h = 0;
    for (u32 i = 0; i < n; i++)
        h = h * 131 + a[i];
    return h;
}
