/* 64-bit FNV-1a hash of the buffer. */
#include "bench.h"

ENTRY
{
    u64 hash = 0xcbf29ce484222325ULL;
    for (u64 i = 0; i < len; i++) {
        hash ^= mem[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}
