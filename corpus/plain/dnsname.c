/* Names in a DNS message: from offset 12, `qd` names (the count at bytes 4-5) are
 * decoded as the resolver would, labels of up to 63 bytes and compression pointers
 * (two bytes, 0xc0 | offset) followed at most 16 times.  Each name is folded to lower
 * case into a 32-bit hash; returns the hashes' xor with the number of labels seen, or
 * an error code for a malformed message. */
#include "corpus.h"

static u32 fold(u32 h, u8 c)
{
    if (c >= 'A' && c <= 'Z')
        c += 'a' - 'A';
    return (h ^ c) * 16777619u;
}

PROGRAM
{
    if (len < 12)
        return ~0ull;
    u32 qd = get_be16(mem + 4);
    u32 off = 12, labels = 0, result = 0;
    for (u32 q = 0; q < qd && q < 32; q++) {
        u32 pos = off, hops = 0, h = 2166136261u;
        int jumped = 0;
        for (;;) {
            if (pos >= len)
                return 1ull << 40 | q;
            u8 n = mem[pos];
            if (n == 0) {
                pos++;
                break;
            }
            if ((n & 0xc0) == 0xc0) {
                if (pos + 1 >= len || ++hops > 16)
                    return 2ull << 40 | q;
                u32 to = (n & 0x3f) << 8 | mem[pos + 1];
                if (!jumped)
                    off = pos + 2;
                jumped = 1;
                pos = to;
                continue;
            }
            if (n > 63 || pos + 1 + n > len)
                return 3ull << 40 | q;
            for (u32 i = 0; i < n; i++)
                h = fold(h, mem[pos + 1 + i]);
            h = fold(h, '.');
            labels++;
            pos += 1 + n;
        }
        if (!jumped)
            off = pos;
        off += 4;               /* type and class */
        result ^= h;
    }
    return (u64)labels << 32 | result;
}
