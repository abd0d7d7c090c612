/* A parser split into programs chained by bpf_tail_call through a PROG_ARRAY whose
 * entries are set in the object (`.values`): the entry program dispatches on the
 * EtherType, the IPv4 stage on the protocol.  Each stage counts itself in `visits`. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, u64);
} visits SEC(".maps");

static __attribute__((always_inline)) void visit(u32 stage)
{
    u64 *count = bpf_map_lookup_elem(&visits, &stage);
    if (count)
        __sync_fetch_and_add(count, 1);
}

int parse_ipv4(struct xdp_md *ctx);
int parse_udp(struct xdp_md *ctx);

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 4);
    __uint(key_size, sizeof(u32));
    __array(values, int (void *));
} stages SEC(".maps") = {
    .values = { [1] = (void *)&parse_ipv4, [2] = (void *)&parse_udp },
};

SEC("xdp")
int dispatch(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    visit(0);
    if ((void *)(eth + 1) > data_end)
        return XDP_ABORTED;
    if (eth->h_proto == htons(ETH_P_IP))
        bpf_tail_call(ctx, &stages, 1);
    else if (eth->h_proto == htons(0x86DD))
        bpf_tail_call(ctx, &stages, 3);      /* not set: falls through */
    return XDP_PASS;
}

SEC("xdp")
int parse_ipv4(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct iphdr *ip = data + sizeof(struct ethhdr);
    visit(1);
    if ((void *)(ip + 1) > data_end)
        return XDP_DROP;
    if (ip->protocol == IPPROTO_UDP)
        bpf_tail_call(ctx, &stages, 2);
    return XDP_TX;
}

SEC("xdp")
int parse_udp(struct xdp_md *ctx)
{
    visit(2);
    return XDP_DROP;
}
