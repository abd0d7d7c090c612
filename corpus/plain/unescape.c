/* JSON string unescaping: each line of the input is a string body with escapes
 * (\n \t \" \\ \/ \b \f \r and \uXXXX); the decoded text goes, as UTF-8, into a
 * 96-byte buffer on the stack, each write checked against the room left (a line whose
 * text does not fit is cut there).  A bad escape ends its line as an error.  Returns a
 * hash of the decoded bytes, the bytes written and the error count. */
#include "corpus.h"

#define ROOM 96

static inline int hex_value(u8 c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

PROGRAM
{
    u8 out[ROOM];
    u64 hash = 0, written = 0, errors = 0;
    u64 i = 0;
    if (len > 8192)
        len = 8192;
    while (i < len) {
        u32 o = 0;
        int bad = 0;
        while (i < len && mem[i] != '\n') {
            u8 c = mem[i++];
            u32 code = c;
            if (c == '\\') {
                if (i >= len) {
                    bad = 1;
                    break;
                }
                u8 e = mem[i++];
                switch (e) {
                case 'n': code = '\n'; break;
                case 't': code = '\t'; break;
                case 'r': code = '\r'; break;
                case 'b': code = '\b'; break;
                case 'f': code = '\f'; break;
                case '"': case '\\': case '/': code = e; break;
                case 'u':
                    code = 0;
                    for (int k = 0; k < 4; k++) {
                        int v = i < len ? hex_value(mem[i]) : -1;
                        if (v < 0) {
                            bad = 1;
                            break;
                        }
                        code = code << 4 | v;
                        i++;
                    }
                    break;
                default:
                    bad = 1;
                }
                if (bad)
                    break;
            }
            /* UTF-8: one to three bytes */
            u32 need = code < 0x80 ? 1 : code < 0x800 ? 2 : 3;
            if (o + need > ROOM)
                break;
            if (need == 1) {
                out[o++] = (u8)code;
            } else if (need == 2) {
                out[o++] = (u8)(0xc0 | code >> 6);
                out[o++] = (u8)(0x80 | (code & 0x3f));
            } else {
                out[o++] = (u8)(0xe0 | code >> 12);
                out[o++] = (u8)(0x80 | (code >> 6 & 0x3f));
                out[o++] = (u8)(0x80 | (code & 0x3f));
            }
        }
        errors += bad;
        for (u32 k = 0; k < o; k++)
            hash = (hash ^ out[k]) * 0x100000001b3ull;
        written += o;
        while (i < len && mem[i] != '\n')
            i++;
        i++;
    }
    return hash ^ written << 40 ^ errors << 56;
}
