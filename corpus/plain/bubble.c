/* Bubble sort of 40 u16 keys taken from the input (big-endian pairs, the rest from a
 * counter), the classic triangle `for i < n-1: for j < n-1-i` with an early exit when
 * a pass swaps nothing; returns the swaps, the passes and a digest of the order. */
#include "corpus.h"

#define N 40

PROGRAM
{
    u16 key[N];
    for (int i = 0; i < N; i++) {
        u64 o = (u64)i * 2;
        key[i] = o + 1 < len ? get_be16(mem + o) : (u16)(i * 7919);
    }
    u32 swaps = 0, passes = 0;
    for (int i = 0; i < N - 1; i++) {
        int swapped = 0;
        passes++;
        for (int j = 0; j < N - 1 - i; j++) {
            if (key[j] > key[j + 1]) {
                u16 t = key[j]; key[j] = key[j + 1]; key[j + 1] = t;
                swaps++; swapped = 1;
            }
        }
        if (!swapped) break;
    }
    u64 digest = 0;
    for (int i = 0; i < N; i++) digest = digest * 31 + key[i];
    return (u64)swaps << 48 ^ (u64)passes << 40 ^ digest;
}
