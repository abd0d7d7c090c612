/* Finds the transport header through small helpers that each return a header pointer
 * or NULL, the way many filters are written: the VLAN, IPv4 and IPv6 paths each leave
 * a pointer, NULL when the packet is something else, and the caller tests it once.
 * Drops TCP to a port listed in `deny` (and truncated TCP), counts UDP per the low
 * byte of the destination port, and passes everything else. */
#include "xdp.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} udp_seen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u16);
    __type(value, __u32);
} deny SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} by_protocol SEC(".maps");

static __always_inline void *network_header(void *data, void *end, __u16 *proto)
{
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return NULL;
    *proto = eth->h_proto;
    void *next = eth + 1;
    if (*proto == bpf_htons(ETH_P_8021Q)) {
        struct vlan_hdr *vh = next;
        if ((void *)(vh + 1) > end)
            return NULL;
        *proto = vh->h_vlan_encapsulated_proto;
        next = vh + 1;
    }
    return next;
}

static __always_inline void *transport_header(void *l3, void *end, __u16 proto,
                                              __u8 *l4proto)
{
    if (proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = l3;
        if ((void *)(ip + 1) > end || ip->ihl < 5)
            return NULL;
        *l4proto = ip->protocol;
        return l3 + ip->ihl * 4;
    }
    if (proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = l3;
        if ((void *)(ip6 + 1) > end)
            return NULL;
        *l4proto = ip6->nexthdr;
        return ip6 + 1;
    }
    return NULL;
}

SEC("xdp")
int l4_filter(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    __u16 proto = 0;
    __u8 l4proto = 0;
    void *l3 = network_header(data, end, &proto);
    if (!l3)
        return XDP_PASS;
    void *l4 = transport_header(l3, end, proto, &l4proto);
    if (!l4)
        return XDP_PASS;
    struct tcphdr *tcp = NULL;
    struct udphdr *udp = NULL;
    if (l4proto == IPPROTO_TCP)
        tcp = l4;
    else if (l4proto == IPPROTO_UDP)
        udp = l4;
    __u32 which = l4proto;
    __u64 *packets = bpf_map_lookup_elem(&by_protocol, &which);
    if (packets)
        *packets += 1;
    if (tcp) {
        if ((void *)(tcp + 1) > end)
            return XDP_DROP;
        __u16 port = bpf_ntohs(tcp->dest);
        if (bpf_map_lookup_elem(&deny, &port))
            return XDP_DROP;
    }
    if (udp) {
        if ((void *)(udp + 1) > end)
            return XDP_PASS;
        __u32 key = bpf_ntohs(udp->dest) & 0xff;
        __u64 *seen = bpf_map_lookup_elem(&udp_seen, &key);
        if (seen)
            *seen += 1;
    }
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
