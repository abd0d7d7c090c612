/* bpf-to-bpf calls: every 8-byte word goes through two non-inlined functions. */
#include "bench.h"

NOINLINE u64 mix(u64 x, u64 k)
{
    x ^= x >> 33;
    x *= k;
    x ^= x >> 29;
    return x;
}

NOINLINE u64 combine(u64 acc, u64 word)
{
    return (acc ^ mix(word, 0xff51afd7ed558ccdULL)) * 0x9e3779b97f4a7c15ULL;
}

ENTRY
{
    u64 acc = len;
    for (u64 i = 0; i + 8 <= len; i += 8)
        acc = combine(acc, load64(mem + i));
    return mix(acc, 0xc4ceb9fe1a85ec53ULL);
}
