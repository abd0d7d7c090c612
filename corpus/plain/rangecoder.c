/* A binary range coder (LZMA's shape) with adaptive 11-bit probabilities: each input
 * byte is coded as eight bits under a context of the bits before it (a 128-entry
 * tree of probabilities), into an output buffer on the stack; the result is the
 * coded length and a hash of the coded bytes. */
#include "corpus.h"

PROGRAM
{
    u16 prob[128];
    u8 out[160];
    for (u32 i = 0; i < 128; i++)
        prob[i] = 1024 + (i & 1);
    u64 low = 0;
    u32 range = 0xffffffff;
    u32 pos = 0, cache_size = 1;
    u8 cache = 0;
    u64 hash = 0;
    for (u64 k = 0; k < len; k++) {
        u32 sym = mem[k] | 0x100;
        u32 ctx = 1;
        for (int bit = 7; bit >= 0; bit--) {
            u32 b = (sym >> bit) & 1;
            u32 p = prob[ctx];
            u32 bound = (range >> 11) * p;
            if (b == 0) {
                range = bound;
                prob[ctx] = p + ((2048 - p) >> 5);
            } else {
                low += bound;
                range -= bound;
                prob[ctx] = p - (p >> 5);
            }
            ctx = (ctx << 1 | b) & 0x7f;
            while (range < (1u << 24)) {
                range <<= 8;
                /* shift low */
                if ((u32)low < 0xff000000u || (low >> 32) != 0) {
                    u8 carry = low >> 32;
                    u8 temp = cache;
                    do {
                        u8 byte = temp + carry;
                        hash = (hash ^ byte) * 0x100000001b3ull;
                        out[pos % 160] = byte;
                        pos++;
                        temp = 0xff;
                    } while (--cache_size != 0);
                    cache = (u8)(low >> 24);
                }
                cache_size++;
                low = (low & 0x00ffffff) << 8;
            }
        }
    }
    u64 tail = 0;
    for (u32 i = 0; i < 160 && i < pos; i += 7)
        tail += out[i];
    return (u64)pos << 40 ^ hash ^ tail;
}
