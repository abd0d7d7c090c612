/* An XDP DNS filter: for a UDP query to port 53 over IPv4, walk the question name's
 * labels (at most 128 bytes), hashing the name case-insensitively, and drop queries
 * for two blocked names (their hashes below) or with a malformed name.  Other packets
 * pass.  Returns the XDP action in the low byte and the name's hash above it, so that
 * a test sees what was hashed. */
#include "xdp.h"

#define BLOCKED_1 0x7d6eec0au   /* "ads.example.com" */
#define BLOCKED_2 0x7183f30au   /* "tracker.example.net" */

SEC("xdp") int xdp_dns(struct xdp_md *ctx)
{
    const u8 *data = (const u8 *)(unsigned long)ctx->data;
    const u8 *end = (const u8 *)(unsigned long)ctx->data_end;
    const struct eth *eth = (const struct eth *)data;
    if ((const u8 *)(eth + 1) > end || eth->proto != BE16(0x0800))
        return XDP_PASS;
    const struct ipv4 *ip = (const struct ipv4 *)(eth + 1);
    if ((const u8 *)(ip + 1) > end || ip->proto != 17 || ip->vihl != 0x45)
        return XDP_PASS;
    const struct udp *uh = (const struct udp *)(ip + 1);
    if ((const u8 *)(uh + 1) > end || uh->dport != BE16(53))
        return XDP_PASS;
    const u8 *q = (const u8 *)(uh + 1) + 12;            /* past the DNS header */
    u32 hash = 2166136261u;                             /* FNV-1a over the name */
    u32 left = 0;                                       /* bytes left in this label */
    for (int i = 0; i < 128; i++) {
        if (q + 1 > end)
            return XDP_DROP;                            /* the name runs off the packet */
        u8 c = *q++;
        if (left == 0) {                                /* a length byte */
            if (c == 0)
                break;
            if (c > 63)
                return XDP_DROP;                        /* compression has no place here */
            left = c;
            c = '.';
        } else {
            left--;
            if (c >= 'A' && c <= 'Z')
                c += 'a' - 'A';
        }
        hash = (hash ^ c) * 16777619u;
    }
    int action = (hash == BLOCKED_1 || hash == BLOCKED_2) ? XDP_DROP : XDP_PASS;
    return (int)((hash & 0xffffff) << 8) | action;
}
