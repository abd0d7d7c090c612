/* Sieve of Eratosthenes over a 2048-bit table on the stack: primes below 2048. */
#include "bench.h"

#define LIMIT 2048

ENTRY
{
    u64 bits[LIMIT / 64];
    for (int i = 0; i < LIMIT / 64; i++)
        bits[i] = 0;
    u64 count = 0;
    for (u32 i = 2; i < LIMIT; i++) {
        if (bits[i / 64] & (1ULL << (i % 64)))
            continue;
        count++;
        for (u32 j = i * i; j < LIMIT; j += i)
            bits[j / 64] |= 1ULL << (j % 64);
    }
    return count;
}
