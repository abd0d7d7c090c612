/* Sliding-window maximum over the buffer's bytes with a window of w = 1 + mem[0] % 32:
 * a monotonic deque of indices in a ring of 32 slots on the stack (head and tail
 * counters, masked), pushing each byte's index after popping smaller values from the
 * back and dropping the front once it leaves the window.  Returns the sum of the
 * maxima and the deque's deepest fill. */
#include "corpus.h"

PROGRAM
{
    if (len < 2)
        return 0;
    u32 w = 1 + mem[0] % 32;
    u32 ring[32];
    u32 head = 0, tail = 0, deepest = 0;
    u64 sum = 0;
    u64 n = len > 100000 ? 100000 : len;
    for (u32 i = 1; i < n; i++) {
        u8 v = mem[i];
        while (tail != head && mem[ring[(tail - 1) & 31]] <= v)
            tail--;
        ring[tail & 31] = i;
        tail++;
        if (tail - head > deepest)
            deepest = tail - head;
        if (ring[head & 31] + w <= i)
            head++;
        if (i >= w)
            sum += mem[ring[head & 31]];
    }
    return sum << 8 | deepest;
}
