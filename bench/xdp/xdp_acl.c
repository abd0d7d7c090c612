/* An XDP access list in the style of small production filters: Ethernet with up to
 * two VLAN tags, IPv4 (with options) or IPv6, then TCP or UDP; a chain of rules on
 * addresses, protocol, ports and flags; and, for TCP SYNs, a walk over the TCP
 * options to refuse a maximum segment size below 536.  Returns the XDP action. */
#include "xdp.h"

#define TCP_SYN 0x02
#define TCP_ACK 0x10

static int tcp_verdict(const struct tcp *th, const u8 *end)
{
    u16 dport = BE16(th->dport);
    if (dport == 23 || dport == 2323)                 /* telnet */
        return XDP_DROP;
    if ((th->flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
        return XDP_PASS;
    /* a SYN: find its MSS option among its first 8 options */
    u32 optlen = (u32)(th->off >> 4) * 4;
    if (optlen < sizeof(*th))
        return XDP_DROP;
    const u8 *opt = (const u8 *)(th + 1);
    const u8 *opts_end = (const u8 *)th + optlen;
    for (int i = 0; i < 8; i++) {
        if (opt + 1 > end || opt >= opts_end)
            break;
        u8 kind = opt[0];
        if (kind == 0)                                  /* end of options */
            break;
        if (kind == 1) {                                /* no-op */
            opt++;
            continue;
        }
        if (opt + 2 > end)
            break;
        u8 len = opt[1];
        if (len < 2)
            return XDP_DROP;                            /* malformed */
        if (kind == 2 && len == 4) {
            if (opt + 4 > end)
                break;
            u16 mss = (u16)(opt[2] << 8 | opt[3]);
            return mss < 536 ? XDP_DROP : XDP_PASS;
        }
        opt += len;
    }
    return XDP_PASS;
}

static int udp_verdict(const struct udp *uh, u32 saddr)
{
    u16 sport = BE16(uh->sport), dport = BE16(uh->dport);
    if (dport == 53 && (saddr & 0xff) != 10)            /* DNS only from 10/8 */
        return XDP_DROP;
    if (sport == 19 || sport == 123 && BE16(uh->len) > 200)   /* chargen, NTP amplification */
        return XDP_DROP;
    return XDP_PASS;
}

SEC("xdp") int xdp_acl(struct xdp_md *ctx)
{
    const u8 *data = (const u8 *)(unsigned long)ctx->data;
    const u8 *end = (const u8 *)(unsigned long)ctx->data_end;
    const struct eth *eth = (const struct eth *)data;
    if ((const u8 *)(eth + 1) > end)
        return XDP_DROP;
    u16 proto = eth->proto;
    const u8 *next = (const u8 *)(eth + 1);
    for (int i = 0; i < 2; i++) {                       /* 802.1Q / 802.1ad tags */
        if (proto != BE16(0x8100) && proto != BE16(0x88a8))
            break;
        const struct vlan *vh = (const struct vlan *)next;
        if ((const u8 *)(vh + 1) > end)
            return XDP_DROP;
        if ((BE16(vh->tci) & 0xfff) == 0xfff)           /* reserved VLAN id */
            return XDP_DROP;
        proto = vh->proto;
        next = (const u8 *)(vh + 1);
    }
    if (proto == BE16(0x0800)) {
        const struct ipv4 *ip = (const struct ipv4 *)next;
        if ((const u8 *)(ip + 1) > end)
            return XDP_DROP;
        u32 ihl = (u32)(ip->vihl & 0x0f) * 4;
        if ((ip->vihl >> 4) != 4 || ihl < sizeof(*ip))
            return XDP_DROP;
        if (ip->ttl < 2 || (ip->src & 0xff) == 127)     /* expiring, or from loopback */
            return XDP_DROP;
        if (BE16(ip->frag) & 0x1fff)                    /* a later fragment: no ports */
            return XDP_PASS;
        const u8 *l4 = (const u8 *)ip + ihl;
        if (ip->proto == 6) {
            const struct tcp *th = (const struct tcp *)l4;
            if ((const u8 *)(th + 1) > end)
                return XDP_DROP;
            return tcp_verdict(th, end);
        }
        if (ip->proto == 17) {
            const struct udp *uh = (const struct udp *)l4;
            if ((const u8 *)(uh + 1) > end)
                return XDP_DROP;
            return udp_verdict(uh, ip->src);
        }
        return ip->proto == 1 ? XDP_PASS : XDP_DROP;    /* ICMP passes, the rest not */
    }
    if (proto == BE16(0x86dd)) {
        const struct ipv6 *ip6 = (const struct ipv6 *)next;
        if ((const u8 *)(ip6 + 1) > end)
            return XDP_DROP;
        if (ip6->hops < 2 || ip6->src[0] == 0xff)       /* expiring, or multicast source */
            return XDP_DROP;
        if (ip6->next == 6) {
            const struct tcp *th = (const struct tcp *)(ip6 + 1);
            if ((const u8 *)(th + 1) > end)
                return XDP_DROP;
            return tcp_verdict(th, end);
        }
        if (ip6->next == 17) {
            const struct udp *uh = (const struct udp *)(ip6 + 1);
            if ((const u8 *)(uh + 1) > end)
                return XDP_DROP;
            return udp_verdict(uh, 10);
        }
        return ip6->next == 58 ? XDP_PASS : XDP_DROP;
    }
    return proto == BE16(0x0806) ? XDP_PASS : XDP_DROP; /* ARP passes */
}
