/* A bitonic sorting network: each 128-byte block of the input is 32 keys of 32 bits,
 * copied to the stack and sorted by compare-and-swap between i and its partner i ^ j;
 * the sorted keys are folded into a hash with their positions. */
#include "corpus.h"

#define KEYS 32

PROGRAM
{
    u32 keys[KEYS];
    u64 acc = 0;
    for (u64 off = 0; off + 4 * KEYS <= len && off < 16384; off += 4 * KEYS) {
        for (u32 i = 0; i < KEYS; i++)
            keys[i] = get_le32(mem + off + 4 * i);
        for (u32 size = 2; size <= KEYS; size <<= 1)
            for (u32 j = size >> 1; j > 0; j >>= 1)
                for (u32 i = 0; i < KEYS; i++) {
                    u32 l = i ^ j;
                    if (l > i) {
                        int up = (i & size) == 0;
                        if ((keys[i] > keys[l]) == up) {
                            u32 t = keys[i]; keys[i] = keys[l]; keys[l] = t;
                        }
                    }
                }
        for (u32 i = 0; i < KEYS; i++)
            acc = (acc + keys[i] * (u64)(i + 1)) * 0x9e3779b97f4a7c15ull;
    }
    return acc;
}
