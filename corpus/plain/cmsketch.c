/* A count-min sketch: 4 rows of 48 16-bit counters in one two-dimensional array on the
 * stack, each row with its own multiply-shift hash of a 2-byte key; every key of the
 * input is counted (saturating) and then estimated as the least of its 4 counters.
 * Returns the sum of the estimates, the largest one and how many keys were estimated
 * above their true count's lower bound of 1. */
#include "corpus.h"

#define ROWS 4
#define WIDTH 48

static const u32 seeds[ROWS] = {0x9e3779b1u, 0x85ebca77u, 0xc2b2ae3du, 0x27d4eb2fu};

static inline u32 slot(u32 key, int row)
{
    return (u32)(((u64)(key * seeds[row]) * WIDTH) >> 32);
}

PROGRAM
{
    u16 cm[ROWS][WIDTH];
    __builtin_memset(cm, 0, sizeof cm);
    u64 sum = 0, over = 0;
    u32 top = 0;
    for (u64 at = 0; at + 1 < len; at += 2) {
        u32 key = mem[at] | (u32)mem[at + 1] << 8;
        u32 est = 0xffff;
        for (int r = 0; r < ROWS; r++) {
            u16 *c = &cm[r][slot(key, r)];
            if (*c != 0xffff)
                (*c)++;
            if (*c < est)
                est = *c;
        }
        sum += est;
        if (est > top)
            top = est;
        over += est > 1;
    }
    return sum << 32 ^ (u64)top << 16 ^ over;
}
