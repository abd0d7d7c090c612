/* Shift-or (bitap) substring counting: the input's first byte is a pattern length (1 to
 * 8), the pattern follows, and the rest is text.  A 256-byte table on the stack holds,
 * for each byte value, the pattern positions where it does not occur (a bit per
 * position); the text is walked by a pointer to its end, one shift and one or per
 * byte.  Returns the matches and the position of the last. */
#include "corpus.h"

PROGRAM
{
    u8 mask[256];
    if (len < 2)
        return 0;
    u32 m = mem[0];
    if (m == 0 || m > 8 || 1 + m > len)
        return 0;
    for (u32 c = 0; c < 256; c++)
        mask[c] = 0xff;
    for (u32 i = 0; i < m; i++)
        mask[mem[1 + i]] &= ~(1u << i);
    const u8 *p = mem + 1 + m, *end = mem + len;
    u32 state = 0xff, hit = 1u << (m - 1);
    u64 matches = 0, last = 0;
    while (p < end) {
        state = (state << 1 | mask[*p++]) & 0xff;
        if (!(state & hit)) {
            matches++;
            last = p - mem;
        }
    }
    return matches << 32 | last;
}
