/* Packet parser: the buffer holds 64-byte slots, each an Ethernet frame
 * (optionally VLAN-tagged) with IPv4 and TCP or UDP.  Counts TCP packets to
 * port 80 and sums their payload lengths, checking every bound first. */
#include "bench.h"

#define SLOT 64

NOINLINE u64 parse(const u8 *p, const u8 *end)
{
    if (p + 14 > end)
        return 0;
    u16 type = load16(p + 12);
    p += 14;
    if (type == 0x0081) {                   /* 802.1Q, in network order */
        if (p + 4 > end)
            return 0;
        type = load16(p + 2);
        p += 4;
    }
    if (type != 0x0008)                     /* IPv4 */
        return 0;
    if (p + 20 > end)
        return 0;
    u32 ihl = (p[0] & 0x0f) * 4;
    u16 total = (u16)(p[2] << 8 | p[3]);
    if (p[9] != 6 || ihl < 20 || p + ihl + 20 > end)
        return 0;
    const u8 *tcp = p + ihl;
    u16 dport = (u16)(tcp[2] << 8 | tcp[3]);
    if (dport != 80)
        return 0;
    u32 doff = (tcp[12] >> 4) * 4;
    return (1ULL << 32) | (u32)(total - ihl - doff);
}

ENTRY
{
    u64 acc = 0;
    for (u64 off = 0; off + SLOT <= len; off += SLOT)
        acc += parse(mem + off, mem + off + SLOT);
    return acc;
}
