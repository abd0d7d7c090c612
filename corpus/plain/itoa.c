/* Number formatting: each little-endian 32-bit word of the input, read as signed, is
 * written in decimal into a stack line buffer (digits produced backwards into a
 * scratch buffer, then copied forwards), separated by commas; a full line (over 200
 * bytes) is folded into a hash and started again, as a logger formats a record. */
#include "corpus.h"

static inline u32 fmt_int(u8 *out, s32 v)
{
    u8 tmp[12];
    u32 n = 0, len = 0;
    u32 u = v < 0 ? -(u32)v : (u32)v;
    do {
        tmp[n++] = '0' + u % 10;
        u /= 10;
    } while (u);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    return len;
}

static inline u64 fold(const u8 *line, u32 n, u64 h)
{
    for (u32 i = 0; i < n; i++)
        h = (h ^ line[i]) * 0x100000001b3ull;
    return h;
}

PROGRAM
{
    u8 line[224];
    u32 used = 0;
    u64 h = 0xcbf29ce484222325ull;
    for (u64 off = 0; off + 4 <= len && off < 8192; off += 4) {
        used += fmt_int(line + used, (s32)get_le32(mem + off));
        line[used++] = ',';
        if (used > 200) {
            h = fold(line, used, h);
            used = 0;
        }
    }
    return fold(line, used, h);
}
