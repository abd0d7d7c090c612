/* Headers read where the packet's linear part has them, else copied to the stack (the
 * shape of a forwarder that must also see headers in a packet's fragments, as the
 * kernel's selftest cls_redirect reads them).  A cursor on the stack holds the skb,
 * the next header's address and the end of the part read in place; `take` returns a
 * header in place, or a copy made with bpf_skb_load_bytes, or 0, and the cursor
 * keeps the last one.  cb[0] says which headers to copy even where they are in place
 * (bit 0 the IPv4 header, bit 1 the UDP header), as they would be from fragments.
 *
 * Ethernet, then IPv4 (options skipped), then UDP: returns the UDP destination port
 * (host order) plus the IPv4 TTL << 16, with bpf_csum_level's answer to QUERY in cb[1]
 * (its low 8 bits) and whether the packet, 100 bytes longer, fits the device's MTU
 * (bpf_check_mtu's result) in cb[2]; TC_ACT_OK (0) for other packets, TC_ACT_SHOT (2)
 * for a header cut short.  Built -mcpu=v3, clang tests the Ethernet header's pointer,
 * which it made from the 32-bit `data` field, against 0 with a 32-bit jump. */
#include "bpf_defs.h"

static long (*bpf_skb_load_bytes)(const void *skb, u32 offset, void *to, u32 len) =
    (void *)26;
static long (*bpf_csum_level)(struct __sk_buff *skb, u64 level) = (void *)135;
static long (*bpf_check_mtu)(void *ctx, u32 ifindex, u32 *mtu_len, s32 len_diff,
                             u64 flags) = (void *)163;

struct udp_head {
    u16 source;
    u16 dest;
    u16 len;
    u16 check;
};

struct cursor {
    struct __sk_buff *skb;
    u8 *pos;
    u8 *end;
    void *last;
};

static inline __attribute__((always_inline)) void *take(struct cursor *c, u32 len, void *copy,
                                                        int copied)
{
    if (copied || c->pos + len > c->end) {
        if (!copy)
            return 0;
        u32 off = c->pos - (u8 *)(long)c->skb->data;
        if (bpf_skb_load_bytes(c->skb, off, copy, len))
            return 0;
        c->pos += len;
        c->last = copy;
        return copy;
    }
    void *p = c->pos;
    c->pos += len;
    c->last = p;
    return p;
}

SEC("tc")
int header_copy(struct __sk_buff *skb)
{
    u8 *data = (u8 *)(long)skb->data, *data_end = (u8 *)(long)skb->data_end;
    u32 copies = skb->cb[0];
    struct cursor c = { skb, data, data_end, 0 };
    struct ethhdr *eth = take(&c, sizeof(*eth), 0, 0);
    if (eth == 0)
        return TC_ACT_OK;
    if (eth->h_proto != htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr ip_copy;
    struct iphdr *ip = take(&c, sizeof(*ip), &ip_copy, copies & 1);
    if (!ip)
        return TC_ACT_SHOT;
    u8 ttl = ip->ttl, protocol = ip->protocol;
    u32 options = ((ip->ihl_version & 15) - 5) * 4;
    if (options > 40)
        return TC_ACT_SHOT;
    c.pos += options;
    if (protocol != IPPROTO_UDP)
        return TC_ACT_OK;
    struct udp_head udp_copy;
    if (!take(&c, sizeof(udp_copy), &udp_copy, copies & 2))
        return TC_ACT_SHOT;
    skb->cb[1] = bpf_csum_level(skb, 0) & 0xff;
    u32 mtu = 0;
    skb->cb[2] = bpf_check_mtu(skb, 0, &mtu, 100, 0);
    struct udp_head *udp = c.last;
    return ntohs(udp->dest) | (u32)ttl << 16;
}

char _license[] SEC("license") = "GPL";
