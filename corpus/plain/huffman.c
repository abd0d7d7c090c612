/* Canonical Huffman decoding, as inflate does it: the input starts with 16 code lengths
 * (0 to 8 bits; symbols without a code have 0), from which a count of codes per length
 * and a table of symbols sorted by code are built on the stack; the rest of the input
 * is a bit stream (least significant bit first) decoded one bit at a time, walking the
 * counts: a symbol's place in the table is the codes before its length plus its code's
 * distance from that length's first code.  Returns the number of symbols decoded and
 * a hash of them (an incomplete or oversubscribed code decodes nothing). */
#include "corpus.h"

#define SYMBOLS 16
#define MAXBITS 8

PROGRAM
{
    if (len < SYMBOLS)
        return 0;
    u16 count[MAXBITS + 1], offs[MAXBITS + 1];
    u8 symbol[SYMBOLS];
    for (int l = 0; l <= MAXBITS; l++)
        count[l] = 0;
    for (int s = 0; s < SYMBOLS; s++)
        count[mem[s] % (MAXBITS + 1)]++;
    if (count[0] == SYMBOLS)
        return 0;
    int left = 1;
    for (int l = 1; l <= MAXBITS; l++) {
        left <<= 1;
        left -= count[l];
        if (left < 0)
            return 0;                   /* oversubscribed */
    }
    if (left > 0)
        return 0;                       /* incomplete */
    offs[1] = 0;
    for (int l = 1; l < MAXBITS; l++)
        offs[l + 1] = offs[l] + count[l];
    for (int s = 0; s < SYMBOLS; s++) {
        u32 l = mem[s] % (MAXBITS + 1);
        if (l != 0)
            symbol[offs[l]++] = s;
    }
    u64 h = 0, decoded = 0;
    u64 bitpos = 0, nbits = (len - SYMBOLS) * 8;
    const u8 *in = mem + SYMBOLS;
    while (bitpos < nbits) {
        int code = 0, first = 0, index = 0, found = -1;
        for (int l = 1; l <= MAXBITS && bitpos < nbits; l++) {
            code |= (in[bitpos >> 3] >> (bitpos & 7)) & 1;
            bitpos++;
            int n = count[l];
            if (code - n < first) {
                found = symbol[index + (code - first)];
                break;
            }
            index += n;
            first += n;
            first <<= 1;
            code <<= 1;
        }
        if (found < 0)
            break;
        h = h * 31 + found;
        decoded++;
    }
    return decoded << 40 | (h & 0xffffffffff);
}
