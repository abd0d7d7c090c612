/* A bit reader: Elias-gamma coded integers read most-significant bit first from a
 * 64-bit accumulator refilled a byte at a time; the zeros before the first one give
 * the code's width.  Returns a hash of the decoded values and how many there were. */
#include "corpus.h"

struct reader { const u8 *p, *end; u64 acc; u32 bits; };

static inline void refill(struct reader *r)
{
    while (r->bits <= 56 && r->p < r->end) {
        r->acc |= (u64)*r->p++ << (56 - r->bits);
        r->bits += 8;
    }
}

static inline u64 take(struct reader *r, u32 n)
{
    u64 v = r->acc >> (64 - n);
    r->acc <<= n;
    r->bits -= n;
    return v;
}

PROGRAM
{
    struct reader r = { mem, mem + len, 0, 0 };
    u64 hash = 1469598103934665603ull, count = 0;
    for (;;) {
        refill(&r);
        if (r.bits == 0 || r.acc == 0)
            break;
        u32 zeros = 0;
        while (!(r.acc >> 63)) {
            r.acc <<= 1;
            zeros++;
        }
        if (2 * zeros + 1 > r.bits)
            break;
        r.bits -= zeros;
        u64 value = take(&r, zeros + 1);
        hash = (hash ^ value) * 1099511628211ull;
        count++;
    }
    return hash ^ count << 52;
}
