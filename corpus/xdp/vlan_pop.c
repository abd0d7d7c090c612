/* Strips one 802.1Q tag: the two MAC addresses move 4 bytes up (over the tag) and the
 * packet's head moves past the old addresses with bpf_xdp_adjust_head, after which
 * every pointer is taken again from the context.  A tag whose VLAN is listed in an
 * array as "keep" stays; untagged packets pass untouched.  Counts what it did. */
#include "xdp.h"

static long (*bpf_xdp_adjust_head)(struct xdp_md *ctx, int delta) = (void *)44;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, __u32);
} keep SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, __u32);
    __type(value, __u64);
} done SEC(".maps");        /* 0: untagged, 1: kept, 2: popped */

static __always_inline void count(__u32 what)
{
    __u64 *n = bpf_map_lookup_elem(&done, &what);
    if (n)
        *n += 1;
}

SEC("xdp")
int vlan_pop(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return XDP_PASS;
    if (eth->h_proto != bpf_htons(ETH_P_8021Q)) {
        count(0);
        return XDP_PASS;
    }
    struct vlan_hdr *tag = (void *)(eth + 1);
    if ((void *)(tag + 1) > end)
        return XDP_DROP;
    __u32 vid = bpf_ntohs(tag->h_vlan_TCI) & 0xfff;
    __u32 *listed = bpf_map_lookup_elem(&keep, &vid);
    if (listed && *listed) {
        count(1);
        return XDP_PASS;
    }
    /* the addresses, 12 bytes, move up over the tag: back to front, 4 bytes apart */
    __u8 *bytes = data;
    for (int i = 11; i >= 0; i--)
        bytes[i + 4] = bytes[i];
    if (bpf_xdp_adjust_head(ctx, 4))
        return XDP_ABORTED;
    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    eth = data;
    if ((void *)(eth + 1) > end)
        return XDP_ABORTED;
    count(2);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
