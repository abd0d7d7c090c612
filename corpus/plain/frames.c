/* Header parsing, packet by packet: the buffer is a run of 64-byte frames, each parsed
 * (Ethernet, IPv4 with options, the ports of TCP or UDP) by non-inlined functions that
 * move a cursor on the caller's stack, as parsers written for bpf-to-bpf calls do. */
#include "corpus.h"

struct cursor { const u8 *pos; const u8 *end; };
HELPER int parse_eth(struct cursor *c, u16 *proto)
{
    const u8 *p = c->pos;
    if (p + 14 > c->end) return -1;
    *proto = get_be16(p + 12);
    c->pos = p + 14;
    return 0;
}
HELPER int parse_ip(struct cursor *c, u8 *l4, u32 *src)
{
    const u8 *p = c->pos;
    if (p + 20 > c->end) return -1;
    u8 ihl = p[0] & 15;
    if (ihl < 5) return -1;
    *l4 = p[9];
    *src = get_le32(p + 12);
    if (p + ihl * 4 > c->end) return -1;
    c->pos = p + ihl * 4;
    return 0;
}
HELPER u32 parse_ports(struct cursor *c)
{
    const u8 *p = c->pos;
    if (p + 4 > c->end) return 0;
    return (u32)get_be16(p) << 16 | get_be16(p + 2);
}
PROGRAM
{
    u64 h = 0;
    u64 off = 0;
    /* the buffer is a sequence of 64-byte frames */
    for (int k = 0; k < 64 && off + 64 <= len; k++, off += 64) {
        struct cursor c = { mem + off, mem + off + 64 };
        u16 proto; u8 l4; u32 src;
        if (parse_eth(&c, &proto) || proto != 0x0800) { h += 1; continue; }
        if (parse_ip(&c, &l4, &src)) { h += 2; continue; }
        h = h * 31 + src;
        if (l4 == 6 || l4 == 17) h ^= parse_ports(&c);
    }
    return h;
}
