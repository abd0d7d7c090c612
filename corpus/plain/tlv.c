/* Type-length-value records (a type byte, a little-endian 16-bit length, the value):
 * a parser struct on the caller's stack that a non-inlined function moves on, handing
 * back the type and length through pointers; odd types have their values summed. */
#include "corpus.h"

struct parser { const u8 *buf; u64 len; u64 off; u32 bad; };
HELPER int next_tlv(struct parser *ps, u8 *type, u16 *vlen)
{
    if (ps->off + 3 > ps->len) return 0;
    const u8 *p = ps->buf + ps->off;
    u16 n = (u16)(p[1] | p[2] << 8);
    if (ps->off + 3 + n > ps->len) { ps->bad++; return 0; }
    *type = p[0];
    *vlen = n;
    ps->off += 3 + n;
    return 1;
}
HELPER u64 sum_value(const struct parser *ps, u16 n)
{
    const u8 *v = ps->buf + ps->off - n;
    u64 s = 0;
    for (u16 i = 0; i < n && i < 64; i++)
        s += v[i];
    return s;
}
PROGRAM
{
    struct parser ps = { mem, len, 0, 0 };
    u8 t; u16 n;
    u64 h = 0, count = 0;
    while (count < 200 && next_tlv(&ps, &t, &n)) {
        h = h * 33 + t;
        if (t & 1) h += sum_value(&ps, n);
        count++;
    }
    return h ^ count << 48 ^ (u64)ps.bad << 56;
}
