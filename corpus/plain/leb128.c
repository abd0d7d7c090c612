/* Decodes a stream of LEB128 varints (signed when the record's first byte is odd,
 * else unsigned), at most 10 bytes each, into a table of 32 u64 slots on the stack
 * indexed by the running count mod 32; a truncated varint ends the stream.  Returns a
 * hash of the table and the count. */
#include "corpus.h"

PROGRAM
{
    u64 table[32];
    for (u32 i = 0; i < 32; i++)
        table[i] = 0;
    u64 at = 0, count = 0;
    int sign = len && (mem[0] & 1);
    while (at < len) {
        u64 v = 0;
        u32 shift = 0;
        u8 byte = 0;
        u32 k = 0;
        for (; k < 10 && at + k < len; k++) {
            byte = mem[at + k];
            v |= (u64)(byte & 0x7f) << shift;
            shift += 7;
            if (!(byte & 0x80))
                break;
        }
        if (k == 10 || at + k >= len)
            break;
        if (sign && shift < 64 && (byte & 0x40))
            v |= ~0ULL << shift;
        table[count % 32] += v;
        count++;
        at += k + 1;
    }
    u64 h = count;
    for (u32 i = 0; i < 32; i++)
        h = (h ^ table[i]) * 0x100000001b3ULL;
    return h;
}
