/* An Elias-gamma decoder that addresses each bit by its position: the byte pos >> 3,
 * the bit 7 - (pos & 7) (`bits` reads the same codes through a refilled accumulator).
 * A code is n zero bits, a one, then n more bits: the number 2^n plus those bits.  The
 * numbers decoded (n at most 31) are folded into a hash; a code cut short by the end
 * of the input ends the stream. */
#include "corpus.h"

static inline u32 bit_at(const u8 *mem, u64 pos)
{
    return (mem[pos >> 3] >> (7 - (pos & 7))) & 1;
}

PROGRAM
{
    u64 bits = len * 8, pos = 0, acc = 0, count = 0;
    while (pos < bits && count < 4096) {
        u32 zeros = 0;
        while (pos < bits && !bit_at(mem, pos) && zeros < 32) {
            zeros++;
            pos++;
        }
        if (zeros == 32 || pos + zeros >= bits)
            break;
        pos++;                          /* the one that ends the zeros */
        u64 value = 1;
        for (u32 k = 0; k < zeros; k++, pos++)
            value = value << 1 | bit_at(mem, pos);
        acc = (acc ^ value) * 0x9e3779b97f4a7c15ull;
        count++;
    }
    return acc + count;
}
