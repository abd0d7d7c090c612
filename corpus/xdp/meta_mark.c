/* Reserves 8 bytes of metadata before the packet with bpf_xdp_adjust_meta and writes
 * there a mark and the packet's IPv4 protocol for a later tc program; the metadata
 * pointer must be checked against the packet's start, as the kernel requires.  IPv4
 * only; anything else passes without metadata. */
#include "xdp.h"

static long (*bpf_xdp_adjust_meta)(struct xdp_md *ctx, int delta) = (void *)54;

struct meta {
    __u32 mark;
    __u8 protocol;
    __u8 pad[3];
};

SEC("xdp")
int meta_mark(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end)
        return XDP_PASS;
    __u8 protocol = ip->protocol;
    __u32 mark = 0x100 | ip->tos;
    if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct meta)))
        return XDP_PASS;
    void *meta_start = (void *)(long)ctx->data_meta;
    data = (void *)(long)ctx->data;
    struct meta *meta = meta_start;
    if ((void *)(meta + 1) > data)
        return XDP_ABORTED;
    meta->mark = mark;
    meta->protocol = protocol;
    meta->pad[0] = meta->pad[1] = meta->pad[2] = 0;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
