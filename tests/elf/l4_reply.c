/* The shape of a load balancer's reply path (davidcoles/xvs's xdp_reply_v4): the TCP
 * or the UDP header is found, bounds-checked and kept in a pointer that stays NULL on
 * the other path; work in between (a counter in a map); then, by protocol, the
 * checksum is rewritten through the pointer kept.  clang joins the paths first, so the pointer
 * is a buffer pointer or NULL by then, its bounds check behind the join.
 * Frame: Ethernet, IPv4 (no options), then TCP or UDP.  For TCP and UDP it counts the
 * packet in `replies` (by protocol), inverts the checksum's bits (the shape of an
 * incremental update) and returns XDP_TX (3); XDP_PASS (2) for other protocols, XDP_DROP
 * (1) for a truncated header. */
#include "bpf_defs.h"

struct tcp_head {           /* the fixed 20 bytes of a TCP header */
    u16 source;
    u16 dest;
    u32 seq;
    u32 ack_seq;
    u16 flags;
    u16 window;
    u16 check;
    u16 urg_ptr;
};

struct udp_head {
    u16 source;
    u16 dest;
    u16 len;
    u16 check;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, u32);
    __type(value, u64);
} replies SEC(".maps");

SEC("xdp")
int l4_reply(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct iphdr *ip = data + sizeof(struct ethhdr);
    struct tcp_head *tcp = 0;
    struct udp_head *udp = 0;
    u32 proto, key;
    u64 *count;

    if ((void *)(ip + 1) > data_end)
        return XDP_DROP;
    proto = ip->protocol;
    if (proto == 6) {
        tcp = (void *)(ip + 1);
        if ((void *)(tcp + 1) > data_end)
            return XDP_DROP;
    } else if (proto == 17) {
        udp = (void *)(ip + 1);
        if ((void *)(udp + 1) > data_end)
            return XDP_DROP;
    } else {
        return XDP_PASS;
    }
    key = proto;
    count = bpf_map_lookup_elem(&replies, &key);
    if (!count)
        return XDP_PASS;
    __sync_fetch_and_add(count, 1);
    switch (proto) {
    case 6:
        tcp->check = (u16)~tcp->check;
        break;
    case 17:
        udp->check = (u16)~udp->check;
        break;
    }
    return XDP_TX;
}

/* The same headers, read instead of written: TCP's window (at 14), UDP's length (at 4).
 * clang takes both fields' addresses before the test that picks one, `tcp + 14` of a
 * tcp that is NULL on the UDP path (NULL moved by 14: mem_or_null(off=48,null+14) in the
 * log), and joins the two.  Returns XDP_TX (3) for a TCP window of 0 or a UDP datagram
 * of length 8 (no payload), else XDP_PASS (2); XDP_DROP (1) for a truncated header. */
SEC("xdp")
int l4_peek(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct iphdr *ip = data + sizeof(struct ethhdr);
    struct tcp_head *tcp = 0;
    struct udp_head *udp = 0;
    u32 proto, key;
    u64 *count;

    if ((void *)(ip + 1) > data_end)
        return XDP_DROP;
    proto = ip->protocol;
    if (proto == 6) {
        tcp = (void *)(ip + 1);
        if ((void *)(tcp + 1) > data_end)
            return XDP_DROP;
    } else if (proto == 17) {
        udp = (void *)(ip + 1);
        if ((void *)(udp + 1) > data_end)
            return XDP_DROP;
    } else {
        return XDP_PASS;
    }
    key = proto;
    count = bpf_map_lookup_elem(&replies, &key);
    if (count)
        __sync_fetch_and_add(count, 1);
    if (proto == 6)
        return tcp->window == 0 ? XDP_TX : XDP_PASS;
    return udp->len == __builtin_bswap16(8) ? XDP_TX : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
