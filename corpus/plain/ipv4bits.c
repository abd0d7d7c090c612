/* IPv4 headers read through a C struct with bitfields, as network code declares them
 * (version and IHL in one byte, flags and fragment offset in one 16-bit word): the
 * input is a sequence of datagrams, each header followed by its payload; a header's
 * length comes from IHL (options skipped), the next datagram from the total length.
 * Counts datagrams by protocol and fragment state and hashes addresses and the first
 * payload byte.  A header that does not fit, or a bad version or length, ends the scan. */
#include "corpus.h"

struct iphdr_bits {
    u8 ihl : 4, version : 4;
    u8 tos;
    u16 tot_len;
    u16 id;
    u16 frag_off : 13, flags : 3;
    u8 ttl, protocol;
    u16 check;
    u32 saddr, daddr;
} __attribute__((packed));

static inline u16 swap16(u16 v)
{
    return (u16)(v << 8 | v >> 8);
}

PROGRAM
{
    u64 h = 0, tcp = 0, udp = 0, other = 0, fragments = 0;
    u64 at = 0;
    while (at + sizeof(struct iphdr_bits) <= len) {
        const struct iphdr_bits *ip = (const void *)(mem + at);
        if (ip->version != 4 || ip->ihl < 5)
            break;
        u32 hlen = ip->ihl * 4;
        u32 total = swap16(ip->tot_len);
        if (total < hlen || at + total > len)
            break;
        if (ip->protocol == 6)
            tcp++;
        else if (ip->protocol == 17)
            udp++;
        else
            other++;
        if (ip->frag_off || (ip->flags & 1))
            fragments++;
        u8 first = total > hlen ? mem[at + hlen] : 0;
        h = (h ^ ip->saddr ^ (u64)ip->daddr << 32) * 0x100000001b3ull + first;
        at += total;
    }
    return h ^ tcp << 48 ^ udp << 40 ^ other << 32 ^ fragments << 24;
}
