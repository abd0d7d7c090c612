/* UTF-16LE to UTF-8: code units in, surrogate pairs joined, each code point written as
 * one to four bytes at `out[o]` of a 128-byte stack buffer, which is hashed and emptied
 * whenever fewer than four bytes remain.  A lone surrogate becomes U+FFFD. */
#include "corpus.h"

static inline u64 fold(u64 h, const u8 *buf, u32 n)
{
    for (u32 i = 0; i < n; i++)
        h = (h ^ buf[i]) * 0x100000001b3ull;
    return h;
}

PROGRAM
{
    u8 out[128];
    u32 o = 0;
    u64 h = 0xcbf29ce484222325ull, points = 0;
    for (u64 i = 0; i + 2 <= len && i < 16384; ) {
        u32 c = mem[i] | mem[i + 1] << 8;
        i += 2;
        if (c >= 0xd800 && c < 0xdc00 && i + 2 <= len) {
            u32 d = mem[i] | mem[i + 1] << 8;
            if (d >= 0xdc00 && d < 0xe000) {
                c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
                i += 2;
            }
        }
        if (c >= 0xd800 && c < 0xe000)
            c = 0xfffd;
        if (o > sizeof(out) - 4) {
            h = fold(h, out, o);
            o = 0;
        }
        if (c < 0x80) {
            out[o++] = (u8)c;
        } else if (c < 0x800) {
            out[o++] = (u8)(0xc0 | c >> 6);
            out[o++] = (u8)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            out[o++] = (u8)(0xe0 | c >> 12);
            out[o++] = (u8)(0x80 | (c >> 6 & 0x3f));
            out[o++] = (u8)(0x80 | (c & 0x3f));
        } else {
            out[o++] = (u8)(0xf0 | c >> 18);
            out[o++] = (u8)(0x80 | (c >> 12 & 0x3f));
            out[o++] = (u8)(0x80 | (c >> 6 & 0x3f));
            out[o++] = (u8)(0x80 | (c & 0x3f));
        }
        points++;
    }
    return fold(h, out, o) ^ points;
}
