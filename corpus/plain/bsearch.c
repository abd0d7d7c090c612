/* Binary search with signed bounds: the buffer's first 128 bytes are 32 keys,
 * sorted on the stack by a selection sort; each further 4-byte word is looked up. */
#include "corpus.h"

#define KEYS 32

HELPER void sort_keys(u32 *keys)
{
    for (int i = 0; i < KEYS - 1; i++) {
        int best = i;
        for (int j = i + 1; j < KEYS; j++)
            if (keys[j] < keys[best])
                best = j;
        u32 t = keys[i];
        keys[i] = keys[best];
        keys[best] = t;
    }
}

static int find(const u32 *keys, u32 x)
{
    int lo = 0, hi = KEYS - 1;
    while (lo <= hi) {
        int mid = lo + ((hi - lo) >> 1);
        if (keys[mid] == x)
            return mid;
        if (keys[mid] < x)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1 - lo;
}

PROGRAM
{
    u32 keys[KEYS];
    if (len < KEYS * 4)
        return 0;
    for (int i = 0; i < KEYS; i++)
        keys[i] = get_le32(mem + 4 * i);
    sort_keys(keys);
    u64 hits = 0, misses = 0;
    for (u64 off = KEYS * 4; off + 4 <= len; off += 4) {
        int at = find(keys, get_le32(mem + off));
        if (at >= 0)
            hits = hits * 64 + at;
        else
            misses += -1 - at;
    }
    return hits ^ misses << 40;
}
