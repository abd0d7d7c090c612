/* Run-length encoding into a stack buffer of 256 bytes, written through an output
 * pointer checked against an end pointer (`if (out + 2 > end) flush`): each run of up
 * to 255 equal bytes becomes (count, byte); a full buffer is folded into a hash and
 * started again. */
#include "corpus.h"

static inline u64 fold(const u8 *p, const u8 *e, u64 h)
{
    while (p < e)
        h = (h ^ *p++) * 0x100000001b3ull;
    return h;
}

PROGRAM
{
    u8 buf[256];
    u8 *out = buf, *end = buf + sizeof(buf);
    u64 h = 0xcbf29ce484222325ull;
    u64 i = 0;
    if (len > 16384)
        len = 16384;
    while (i < len) {
        u8 b = mem[i];
        u32 run = 1;
        while (i + run < len && mem[i + run] == b && run < 255)
            run++;
        if (out + 2 > end) {
            h = fold(buf, out, h);
            out = buf;
        }
        *out++ = run;
        *out++ = b;
        i += run;
    }
    return fold(buf, out, h);
}
