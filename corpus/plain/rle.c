/* PackBits run-length decoding, folded into an Adler-32 of the decoded bytes instead of
 * written out: a control byte c below 128 copies the next c + 1 bytes, one above 128
 * repeats the next byte 257 - c times, 128 is skipped.  Indexes are 32-bit; a literal
 * run that would pass the end stops the decoding. */
#include "corpus.h"

PROGRAM
{
    u32 a = 1, b = 0, out = 0;
    u32 i = 0, n = (u32)len;
    while (i < n) {
        u32 c = mem[i++];
        if (c < 128) {
            u32 count = c + 1;
            if (count > n - i)
                break;
            for (u32 k = 0; k < count; k++) {
                a = (a + mem[i + k]) % 65521;
                b = (b + a) % 65521;
            }
            i += count;
            out += count;
        } else if (c > 128) {
            if (i >= n)
                break;
            u32 v = mem[i++];
            for (u32 k = 0; k < 257 - c; k++) {
                a = (a + v) % 65521;
                b = (b + a) % 65521;
            }
            out += 257 - c;
        }
    }
    return (u64)(b << 16 | a) ^ (u64)out << 32;
}
