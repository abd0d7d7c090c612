/* A flow table: a hash map keyed by the 5-tuple, counting packets and bytes of each
 * flow; new flows are inserted with BPF_NOEXIST.  Drops when the table is full. */
#include "bpf_defs.h"

struct flow_key {
    u32 saddr;
    u32 daddr;
    u16 sport;
    u16 dport;
    u32 proto;
};

struct flow_stats {
    u64 packets;
    u64 bytes;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4);
    __type(key, struct flow_key);
    __type(value, struct flow_stats);
} flows SEC(".maps");

SEC("xdp/flows")
int track_flows(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    struct ports *ports = (void *)(ip + 1);
    if ((void *)(ports + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;
    if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
        return XDP_PASS;

    struct flow_key key = {
        .saddr = ip->saddr, .daddr = ip->daddr,
        .sport = ntohs(ports->source), .dport = ntohs(ports->dest),
        .proto = ip->protocol,
    };
    u64 length = data_end - data;
    struct flow_stats *stats = bpf_map_lookup_elem(&flows, &key);
    if (stats) {
        stats->packets += 1;
        stats->bytes += length;
        return XDP_PASS;
    }
    struct flow_stats first = { .packets = 1, .bytes = length };
    if (bpf_map_update_elem(&flows, &key, &first, BPF_NOEXIST) != 0)
        return XDP_DROP;          /* the table is full */
    return XDP_PASS;
}
