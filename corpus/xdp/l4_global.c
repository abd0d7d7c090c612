/* The transport ports read by a global (non-static, non-inlined) function, which the
 * kernel verifies on its own, knowing only its arguments' types: the context and an
 * offset it must check against the packet itself.  Destination ports are counted in a
 * 256-entry array by their low byte; packets without a transport header pass. */
#include "xdp.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} dports SEC(".maps");

__attribute__((noinline)) int l4_dport(struct xdp_md *ctx, __u32 offset)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (offset > 1500)
        return -1;
    __be16 *ports = data + offset;
    if ((void *)(ports + 2) > end)
        return -1;
    return bpf_ntohs(ports[1]);
}

SEC("xdp")
int l4_global(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end)
        return XDP_PASS;
    if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
        return XDP_PASS;
    int port = l4_dport(ctx, sizeof(*eth) + ip->ihl * 4);
    if (port < 0)
        return XDP_PASS;
    __u32 key = port & 0xff;
    __u64 *n = bpf_map_lookup_elem(&dports, &key);
    if (n)
        *n += 1;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
