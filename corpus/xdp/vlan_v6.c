/* Parsing with loops: up to two VLAN tags, then IPv6 with up to four extension
 * headers, each of variable length, advancing a header offset; counts the final
 * next-header value per VLAN id bucket and passes everything. */
#include "xdp.h"

#define MAX_VLANS 2
#define MAX_EXT 4

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u64);
} nexthdr_count SEC(".maps");

static __always_inline int is_vlan(__u16 proto)
{
    return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

SEC("xdp")
int vlan_v6(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    __u64 off = sizeof(*eth);
    if (data + off > data_end)
        return XDP_PASS;
    __u16 proto = eth->h_proto;
    __u16 vid = 0;
#pragma unroll
    for (int i = 0; i < MAX_VLANS; i++) {
        struct vlan_hdr *vh = data + off;
        if (!is_vlan(proto) || (void *)(vh + 1) > data_end)
            break;
        proto = vh->h_vlan_encapsulated_proto;
        vid = bpf_ntohs(vh->h_vlan_TCI) & 0x0fff;
        off += sizeof(*vh);
    }
    if (proto != bpf_htons(ETH_P_IPV6))
        return XDP_PASS;
    struct ipv6hdr *ip6 = data + off;
    if ((void *)(ip6 + 1) > data_end)
        return XDP_PASS;
    __u8 next = ip6->nexthdr;
    off += sizeof(*ip6);
    for (int i = 0; i < MAX_EXT; i++) {
        if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
            next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT)
            break;
        struct ipv6_opt_hdr *ext = data + off;
        if ((void *)(ext + 1) > data_end)
            return XDP_PASS;
        next = ext->nexthdr;
        off += next == IPPROTO_FRAGMENT ? 8 : (ext->hdrlen + 1) * 8;
        if (off > 512)
            return XDP_PASS;
    }
    __u32 key = (vid & 7) << 3 | (next == IPPROTO_TCP ? 1 : next == IPPROTO_UDP ? 2 : 0);
    __u64 *count = bpf_map_lookup_elem(&nexthdr_count, &key);
    if (count)
        *count += 1;
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
