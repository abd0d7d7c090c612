/* HyperLogLog: each 4-byte word of the input is hashed (a 64-bit finaliser), the top 6
 * bits pick one of 64 byte registers on the stack and the register keeps the longest
 * run of leading zeros seen in the rest, counted bit by bit.  The estimate is the
 * harmonic mean of 2^register in 32.32 fixed point, with the small-range correction
 * (linear counting over the empty registers) done by a table-free integer log. */
#include "corpus.h"

#define REGS 64

static inline u64 mix(u64 x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

PROGRAM
{
    u8 reg[REGS];
    for (int i = 0; i < REGS; i++)
        reg[i] = 0;
    u64 words = len / 4;
    if (words > 4096)
        words = 4096;
    for (u64 w = 0; w < words; w++) {
        u64 h = mix(get_le32(mem + 4 * w) | (u64)w << 32);
        u32 idx = h >> 58;
        u64 rest = h << 6;
        u8 rank = 1;
        while (rank < 59 && !(rest & 0x8000000000000000ull)) {
            rest <<= 1;
            rank++;
        }
        if (rank > reg[idx])
            reg[idx] = rank;
    }
    /* sum of 2^-reg[i] in 32.32 fixed point, and the empty registers */
    u64 sum = 0;
    u32 zeros = 0;
    for (int i = 0; i < REGS; i++) {
        sum += (1ull << 32) >> reg[i];
        zeros += reg[i] == 0;
    }
    /* alpha_64 * m^2 / sum, alpha_64 ~ 0.709 = 46465 / 65536 */
    u64 estimate = ((u64)REGS * REGS * 46465 << 16) / sum;
    if (estimate < 5 * REGS / 2 && zeros) {
        /* linear counting: m * ln(m / zeros), ln by counting halvings in 16.16 */
        u64 ratio = ((u64)REGS << 16) / zeros, lg = 0;
        while (ratio >= 2 << 16) {
            ratio >>= 1;
            lg += 45426;            /* ln 2 in 16.16 */
        }
        lg += ((ratio - (1 << 16)) * 45426) >> 16;     /* a chord of ln between 1 and 2 */
        estimate = (REGS * lg) >> 16;
    }
    return estimate << 8 | zeros;
}
