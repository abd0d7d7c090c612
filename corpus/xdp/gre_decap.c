/* Decapsulates GRE over IPv4: an outer IPv4 header (protocol 47, any header length)
 * then a GRE header whose flags say which optional words follow (checksum and reserved,
 * key, sequence number); the inner IPv4 packet moves to the front: its Ethernet
 * header is written just before it and bpf_xdp_adjust_head drops the rest.  Keys seen
 * are counted in an array by their low byte. */
#include "xdp.h"

static long (*bpf_xdp_adjust_head)(struct xdp_md *ctx, int delta) = (void *)44;

struct grehdr {
    __be16 flags;
    __be16 protocol;
};

#define GRE_CSUM 0x8000
#define GRE_KEY 0x2000
#define GRE_SEQ 0x1000

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} keys SEC(".maps");

SEC("xdp")
int gre_decap(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *outer = (void *)(eth + 1);
    if ((void *)(outer + 1) > end || outer->protocol != 47)
        return XDP_PASS;
    __u32 ihl = outer->ihl * 4;
    if (ihl < 20)
        return XDP_DROP;
    struct grehdr *gre = (void *)outer + ihl;
    if ((void *)(gre + 1) > end || gre->protocol != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    __u16 flags = bpf_ntohs(gre->flags);
    if (flags & 0x4fff)                             /* routing, version: not handled */
        return XDP_DROP;
    __u32 extra = ((flags & GRE_CSUM) ? 4 : 0) + ((flags & GRE_SEQ) ? 4 : 0);
    __u8 *after = (__u8 *)(gre + 1);
    if (flags & GRE_KEY) {
        if ((void *)(after + ((flags & GRE_CSUM) ? 8 : 4)) > end)
            return XDP_DROP;
        __u32 key = after[(flags & GRE_CSUM) ? 7 : 3];
        __u64 *n = bpf_map_lookup_elem(&keys, &key);
        if (n)
            *n += 1;
        extra += 4;
    }
    struct iphdr *inner = (void *)(after + extra);
    if ((void *)(inner + 1) > end)
        return XDP_DROP;
    /* the new Ethernet header goes just before the inner packet: same addresses */
    struct ethhdr *neweth = (void *)inner - sizeof(*neweth);
    __u8 macs[12];
    __builtin_memcpy(macs, eth, 12);
    __builtin_memcpy(neweth, macs, 12);
    neweth->h_proto = bpf_htons(ETH_P_IP);
    int delta = (void *)neweth - data;
    if (bpf_xdp_adjust_head(ctx, delta))
        return XDP_ABORTED;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
