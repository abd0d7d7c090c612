/* Sliding-window minimum with a monotonic deque: for each byte, the minimum of the
 * last 32 bytes, kept in a stack array of indices between a head and a tail that both
 * only move forward (ring positions masked by 63); returns the sum of the minima and
 * how often the minimum changed. */
#include "corpus.h"

#define W 32

PROGRAM
{
    u32 dq[64];
    u32 head = 0, tail = 0;
    u64 sum = 0, changes = 0;
    u32 last = 256;
    u32 n = min(len, 8192);
    for (u32 i = 0; i < n; i++) {
        u8 v = mem[i];
        while (tail > head && mem[dq[(tail - 1) & 63]] >= v)
            tail--;
        dq[tail & 63] = i;
        tail++;
        if (dq[head & 63] + W <= i)
            head++;
        u32 m = mem[dq[head & 63]];
        sum += m;
        if (m != last) {
            changes++;
            last = m;
        }
    }
    return sum << 20 | changes;
}
