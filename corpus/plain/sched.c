/* A weighted round-robin scheduler over 12 queues on the stack: each input byte adds
 * work to queue byte % 12; then the queue with the most credit (credit += weight each
 * tick, the index of the maximum found by a scan) is served and its credit spent.
 * Returns a hash of the order in which queues were served. */
#include "corpus.h"

#define Q 12

PROGRAM
{
    u32 work[Q] = { 0 };
    s32 credit[Q] = { 0 };
    u64 h = 0;
    for (u64 off = 0; off < len && off < 4096; off++) {
        u8 c = mem[off];
        work[c % Q] += 1 + (c >> 6);
        u32 best = Q;
        s32 top = -(1 << 30);
        for (u32 q = 0; q < Q; q++) {
            credit[q] += (s32)(q + 1);
            if (work[q] > 0 && credit[q] > top) {
                top = credit[q];
                best = q;
            }
        }
        if (best < Q) {
            work[best]--;
            credit[best] -= 40;
            h = h * 13 + best;
        }
    }
    return h;
}
