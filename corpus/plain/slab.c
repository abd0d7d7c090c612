/* A slab allocator over 64 slots tracked by a 64-bit free bitmap: each input byte is a
 * command (top bit set: free the slot its low six bits name, if allocated; else
 * allocate the lowest free slot).  The lowest set bit is found with a de Bruijn
 * multiply and a 64-entry table in .rodata, and a full slab is reported as -1 by the
 * finder, as C allocators do.  Each allocated slot records the command's index in a
 * u16 array; returns a hash of the final owners and the failed allocations. */
#include "corpus.h"

static const u8 debruijn_index[64] = {
    0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
    62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
    63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
    46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
};

static int lowest_free(u64 free)
{
    if (free == 0)
        return -1;
    return debruijn_index[((free & -free) * 0x03f79d71b4cb0a89ull) >> 58];
}

PROGRAM
{
    u64 free = ~0ull;
    u16 owner[64];
    u32 failed = 0;
    for (int i = 0; i < 64; i++)
        owner[i] = 0xffff;
    u64 n = len < 4096 ? len : 4096;
    for (u64 i = 0; i < n; i++) {
        u8 cmd = mem[i];
        if (cmd & 0x80) {
            u32 slot = cmd & 63;
            if (!(free >> slot & 1)) {
                free |= 1ull << slot;
                owner[slot] = 0xffff;
            }
            continue;
        }
        int slot = lowest_free(free);
        if (slot < 0) {
            failed++;
            continue;
        }
        free &= ~(1ull << slot);
        owner[slot] = (u16)i;
    }
    u64 h = failed;
    for (int i = 0; i < 64; i++)
        h = h * 1000003 + owner[i];
    return h ^ free;
}
