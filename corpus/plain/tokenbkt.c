/* A token-bucket rate limiter per flow, as a packet filter keeps one: records of a
 * flow id byte and a 24-bit microsecond timestamp delta; 16 buckets on the stack, each
 * a struct of the last refill time (u64) and tokens in 1/1024ths (u32).  Refill adds
 * elapsed time times a rate, capped at the burst; a packet that finds a whole token
 * takes it and passes, else it drops.  Flows map to buckets by the low 4 bits.
 * Returns the passed and dropped counts and a hash of the verdicts. */
#include "corpus.h"

#define BUCKETS 16
#define RATE 3          /* tokens (in 1/1024ths) per microsecond */
#define BURST (8 << 10) /* eight whole tokens */

struct bucket {
    u64 last;
    u32 tokens;
    u32 flow;
};

PROGRAM
{
    struct bucket b[BUCKETS];
    for (int k = 0; k < BUCKETS; k++) {
        b[k].last = 0;
        b[k].tokens = BURST;
        b[k].flow = 0;
    }
    u64 now = 0, passed = 0, dropped = 0, verdicts = 0;
    for (u64 off = 0; off + 4 <= len; off += 4) {
        u8 flow = mem[off];
        now += mem[off + 1] | mem[off + 2] << 8 | (u32)mem[off + 3] << 16;
        struct bucket *e = &b[flow & (BUCKETS - 1)];
        if (e->flow != flow) {              /* a new flow in this bucket: a full one */
            e->flow = flow;
            e->last = now;
            e->tokens = BURST;
        }
        u64 refill = (now - e->last) * RATE;
        u64 tokens = e->tokens + refill;
        e->tokens = tokens > BURST ? BURST : (u32)tokens;
        e->last = now;
        int pass = e->tokens >= 1024;
        if (pass) {
            e->tokens -= 1024;
            passed++;
        } else {
            dropped++;
        }
        verdicts = (verdicts << 1 | pass) * 0x9e3779b97f4a7c15ull;
    }
    return passed << 48 ^ dropped << 32 ^ verdicts;
}
