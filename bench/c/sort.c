/* Insertion sort of 64 u32 keys copied from the buffer onto the stack;
 * returns a position-weighted sum of the sorted keys. */
#include "bench.h"

#define N 64

ENTRY
{
    u32 keys[N];
    if (len < N * 4)
        return 0;
    for (int i = 0; i < N; i++)
        keys[i] = load32(mem + 4 * i);
    for (int i = 1; i < N; i++) {
        u32 k = keys[i];
        int j = i - 1;
        while (j >= 0 && keys[j] > k) {
            keys[j + 1] = keys[j];
            j--;
        }
        keys[j + 1] = k;
    }
    u64 acc = 0;
    for (int i = 0; i < N; i++)
        acc = acc * 31 + keys[i];
    return acc;
}
