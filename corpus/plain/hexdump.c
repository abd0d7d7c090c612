/* A hex dump: each input byte becomes two hex digits and a space in a 192-byte stack
 * line (byte i of a line at out[3 * i]: a stride of 3), which is hashed whenever 64
 * bytes have been written and at the end. */
#include "corpus.h"

static const char digits[16] = "0123456789abcdef";

static inline u64 fold(u64 h, const u8 *line, u32 n)
{
    for (u32 i = 0; i < n; i++)
        h = (h ^ line[i]) * 0x100000001b3ull;
    return h;
}

PROGRAM
{
    u8 line[192];
    u64 h = 0xcbf29ce484222325ull;
    u32 i = 0;
    for (u64 off = 0; off < len && off < 16384; off++) {
        u8 c = mem[off];
        line[3 * i] = digits[c >> 4];
        line[3 * i + 1] = digits[c & 15];
        line[3 * i + 2] = ' ';
        if (++i == 64) {
            h = fold(h, line, 3 * i);
            i = 0;
        }
    }
    return fold(h, line, 3 * i);
}
