/* An LZ77-style decoder into a 256-byte window on the stack: a control byte below 0x80
 * is a run of that many literals plus one; otherwise its low bits and the next byte
 * give a length and a distance back into what was already written.  A distance past
 * the start, or output past the window, stops the decoder. */
#include "corpus.h"

PROGRAM
{
    u8 out[256];
    u32 n = 0;
    u64 i = 0;
    while (i < len) {
        u8 c = mem[i++];
        if (c < 0x80) {
            u32 run = c + 1;
            if (i + run > len || n + run > sizeof(out))
                break;
            for (u32 k = 0; k < run; k++)
                out[n + k] = mem[i + k];
            i += run;
            n += run;
        } else {
            if (i >= len)
                break;
            u32 length = (c & 0x1f) + 3;
            u32 dist = (u32)((c >> 5) & 3) << 8 | mem[i++];
            if (dist == 0 || dist > n || n + length > sizeof(out))
                break;
            for (u32 k = 0; k < length; k++, n++)
                out[n] = out[n - dist];
        }
    }
    u64 h = n;
    for (u32 k = 0; k < n; k++)
        h = h * 131 + out[k];
    return h;
}
