/* Per-protocol counters in two array maps, chosen by protocol: the pointer used to
 * update them is the join of two lookups.  Sources listed in a hash map are dropped. */
#include "xdp.h"

struct counters {
    __u64 packets;
    __u64 bytes;
    __u64 last_seen;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, struct counters);
} tcp_ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, struct counters);
} udp_ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __be32);
    __type(value, __u32);
} blocked SEC(".maps");

SEC("xdp")
int proto_stats(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->ihl < 5)
        return XDP_PASS;
    __u32 *hits = bpf_map_lookup_elem(&blocked, &ip->saddr);
    if (hits) {
        __sync_fetch_and_add(hits, 1);
        return XDP_DROP;
    }
    if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
        return XDP_PASS;
    struct udphdr *l4 = (void *)ip + ip->ihl * 4;
    if ((void *)(l4 + 1) > data_end)
        return XDP_PASS;
    __u32 port = bpf_ntohs(l4->dest) & 0xff;
    struct counters *c = ip->protocol == IPPROTO_TCP ? bpf_map_lookup_elem(&tcp_ports, &port)
                                                     : bpf_map_lookup_elem(&udp_ports, &port);
    if (!c)
        return XDP_ABORTED;
    c->packets++;
    c->bytes += data_end - data;
    c->last_seen = ip->ttl;
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
