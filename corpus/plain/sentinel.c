/* Comma-separated fields split with a sentinel, as C that trusts its own buffer does:
 * each line (at most 63 bytes) is copied into a stack buffer with a ',' put after its
 * end, so the field scanner `while (*p != ',') p++` needs no length test; each field's
 * length and first byte go into a hash.  Lines longer than the buffer are cut.
 * Returns the hash and the number of fields. */
#include "corpus.h"

#define LINE 64

PROGRAM
{
    u8 buf[LINE + 1];
    u64 h = 0, fields = 0, at = 0;
    while (at < len) {
        u32 n = 0;
        while (at < len && mem[at] != '\n') {
            if (n < LINE - 1)
                buf[n++] = mem[at];
            at++;
        }
        at++;
        buf[n] = ',';
        const u8 *p = buf, *end = buf + n;
        while (p <= end) {
            const u8 *start = p;
            while (*p != ',')
                p++;
            h = (h ^ (u64)(p - start)) * 0x100000001b3ull ^ (p > start ? start[0] : 0);
            fields++;
            p++;
        }
    }
    return h ^ fields << 48;
}
