/* Misra-Gries heavy hitters over 2-byte items with 10 counters: a present item's
 * counter grows, an absent one takes a free counter, or every counter drops by one.
 * Then a second pass counts the candidates exactly; returns the items that are more
 * than 1/22 of all, packed, and their exact counts summed. */
#include "corpus.h"
#define K 10

PROGRAM
{
    u16 item[K];
    u32 cnt[K];
    for (int k = 0; k < K; k++) {
        item[k] = 0;
        cnt[k] = 0;
    }
    u64 n = len / 2;
    for (u64 i = 0; i < n; i++) {
        u16 v = get_be16(mem + 2 * i) & 0x3ff;
        int k, free = -1;
        for (k = 0; k < K; k++) {
            if (cnt[k] && item[k] == v)
                break;
            if (!cnt[k] && free < 0)
                free = k;
        }
        if (k < K) {
            cnt[k]++;
        } else if (free >= 0) {
            item[free] = v;
            cnt[free] = 1;
        } else {
            for (k = 0; k < K; k++)
                cnt[k]--;
        }
    }
    u32 exact[K];
    for (int k = 0; k < K; k++)
        exact[k] = 0;
    for (u64 i = 0; i < n; i++) {
        u16 v = get_be16(mem + 2 * i) & 0x3ff;
        for (int k = 0; k < K; k++)
            exact[k] += cnt[k] && item[k] == v;
    }
    u64 packed = 0, sum = 0;
    for (int k = 0; k < K; k++)
        if (exact[k] * 22 > n) {
            packed = packed * 1031 + item[k];
            sum += exact[k];
        }
    return packed ^ sum << 40;
}
