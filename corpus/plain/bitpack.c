/* Bit packing: each input byte's low 5 bits are appended to a 160-byte output buffer
 * on the stack, least significant bit first, at a running bit position (byte pos / 8,
 * shift pos % 8, spilling into the next byte when the field crosses it); a full buffer
 * is folded into a hash and cleared.  Then the packed bits are read back as 5-bit
 * fields the same way and checked against the input.  Returns the hash, the final
 * bit position and the count of fields that did not read back. */
#include "corpus.h"

#define BYTES 160
#define FIELDS (BYTES * 8 / 5)

PROGRAM
{
    u8 out[BYTES];
    for (int k = 0; k < BYTES; k++)
        out[k] = 0;
    u64 hash = 0, wrong = 0;
    u32 pos = 0;
    for (u64 i = 0; i < len; i++) {
        u32 v = mem[i] & 31;
        u32 at = pos >> 3, shift = pos & 7;
        out[at] |= (u8)(v << shift);
        if (shift > 3)
            out[at + 1] |= (u8)(v >> (8 - shift));
        pos += 5;
        if (pos == FIELDS * 5) {
            /* read every field back, then fold the buffer in and clear it */
            for (u32 f = 0; f < FIELDS; f++) {
                u32 p = f * 5, b = p >> 3, s = p & 7;
                u32 w = out[b] >> s;
                if (s > 3)
                    w |= out[b + 1] << (8 - s);
                if ((w & 31) != (mem[i + 1 - FIELDS + f] & 31))
                    wrong++;
            }
            for (int k = 0; k < BYTES; k++) {
                hash = (hash ^ out[k]) * 0x100000001b3ull;
                out[k] = 0;
            }
            pos = 0;
        }
    }
    for (u32 k = 0; k < (pos + 7) / 8; k++)
        hash = (hash ^ out[k]) * 0x100000001b3ull;
    return hash ^ (u64)pos << 40 ^ wrong << 56;
}
