/* Words of each line reversed in place: a line (cut at 120 bytes) is copied to a stack
 * buffer, reversed whole by two pointers walking toward each other, then each word is
 * reversed back the same way, as the classic in-place word reversal does.  Returns a
 * hash of every reversed line. */
#include "corpus.h"

#define LINE 120

static void reverse(u8 *l, u8 *r)
{
    while (l < r) {
        u8 t = *l;
        *l++ = *r;
        *r-- = t;
    }
}

PROGRAM
{
    u8 buf[LINE];
    u64 h = 0, at = 0;
    while (at < len) {
        u32 n = 0;
        while (at < len && mem[at] != '\n') {
            if (n < LINE)
                buf[n++] = mem[at];
            at++;
        }
        at++;
        if (n == 0)
            continue;
        reverse(buf, buf + n - 1);
        u8 *w = buf, *e = buf + n;
        while (w < e) {
            u8 *s = w;
            while (w < e && *w != ' ')
                w++;
            reverse(s, w - 1);
            w++;
        }
        for (u32 i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001b3ull;
    }
    return h;
}
