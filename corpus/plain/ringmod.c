/* A moving median-of-three over a ring of 24 readings whose positions are taken modulo
 * 24 (not a power of two: a division, not a mask): each 2-byte reading of the input
 * goes in at (head + count) % 24 and the oldest leaves at head; the readings at
 * head, head + 8 and head + 16 (mod 24) give a median, summed over the input. */
#include "corpus.h"

#define SIZE 24

PROGRAM
{
    u16 ring[SIZE];
    u32 head = 0, count = 0;
    u64 sum = 0;
    for (u64 off = 0; off + 2 <= len && off < 16384; off += 2) {
        u16 v = (u16)(mem[off] | mem[off + 1] << 8);
        if (count == SIZE) {
            head = (head + 1) % SIZE;
            count--;
        }
        ring[(head + count) % SIZE] = v;
        count++;
        if (count == SIZE) {
            u32 a = ring[head], b = ring[(head + 8) % SIZE], c = ring[(head + 16) % SIZE];
            u32 m = max(min(a, b), min(max(a, b), c));
            sum += m;
        }
    }
    return sum * 31 + head;
}
