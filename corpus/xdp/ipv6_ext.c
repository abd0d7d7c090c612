/* Filters IPv6 by transport port behind extension headers: the chain after the fixed
 * header is walked (at most 6 headers: hop-by-hop, routing, destination options by
 * their 8-byte-unit lengths, a fragment header of 8 bytes, AH by its 4-byte-unit
 * length) to the first TCP or UDP header; a non-first fragment has none.  The
 * destination port is looked up in an array of 65536 verdict bytes (1: drop), and
 * the number of extension headers crossed is counted per packet class.  The offset is
 * a number added to the header's start, not a moving pointer. */
#include "xdp.h"

#define IPPROTO_AH 51
#define IPPROTO_NONE 59

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, __u8);
} port_verdicts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} headers_seen SEC(".maps");   /* [n]: packets that crossed n headers; [7]: gave up */

struct frag_hdr {
    __u8 nexthdr;
    __u8 reserved;
    __be16 frag_off;            /* offset << 3 | flags */
    __be32 id;
};

static __always_inline void seen(__u32 n)
{
    __u64 *count = bpf_map_lookup_elem(&headers_seen, &n);
    if (count)
        *count += 1;
}

SEC("xdp")
int ipv6_ext(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IPV6))
        return XDP_PASS;
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    if ((void *)(ip6 + 1) > end)
        return XDP_PASS;
    __u8 next = ip6->nexthdr;
    __u32 off = sizeof(*eth) + sizeof(*ip6);
    __u32 n;
    for (n = 0; n < 6; n++) {
        if (next == IPPROTO_TCP || next == IPPROTO_UDP || next == IPPROTO_NONE)
            break;
        struct ipv6_opt_hdr *opt = data + off;
        if ((void *)(opt + 1) > end)
            return XDP_PASS;
        switch (next) {
        case IPPROTO_HOPOPTS:
        case IPPROTO_ROUTING:
        case IPPROTO_DSTOPTS:
            off += (opt->hdrlen + 1) * 8;
            break;
        case IPPROTO_AH:
            off += (opt->hdrlen + 2) * 4;
            break;
        case IPPROTO_FRAGMENT: {
            struct frag_hdr *frag = (void *)opt;
            if ((void *)(frag + 1) > end)
                return XDP_PASS;
            if (frag->frag_off & bpf_htons(0xfff8)) {       /* not the first fragment */
                seen(n + 1);
                return XDP_PASS;
            }
            off += sizeof(*frag);
            break;
        }
        default:
            seen(7);
            return XDP_PASS;                               /* a header not walked */
        }
        next = opt->nexthdr;
    }
    if (next != IPPROTO_TCP && next != IPPROTO_UDP) {
        seen(next == IPPROTO_NONE ? n : 7);
        return XDP_PASS;
    }
    seen(n);
    __be16 *ports = data + off;                 /* source, destination: TCP and UDP alike */
    if ((void *)(ports + 2) > end)
        return XDP_PASS;
    __u32 port = bpf_ntohs(ports[1]);
    __u8 *verdict = bpf_map_lookup_elem(&port_verdicts, &port);
    return verdict && *verdict == 1 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
