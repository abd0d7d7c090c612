/* A packet counter: counts packets per IP protocol in an array map (BTF-defined),
 * and every packet in slot 0 of a second map; passes everything. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, u32);
    __type(value, u64);
} proto_counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} total SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u32 zero = 0;
    u64 *all = bpf_map_lookup_elem(&total, &zero);
    if (all)
        __sync_fetch_and_add(all, 1);

    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return XDP_PASS;
    if (eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
        return XDP_PASS;
    u32 proto = ip->protocol;
    u64 *count = bpf_map_lookup_elem(&proto_counts, &proto);
    if (count)
        *count += 1;
    return XDP_PASS;
}
