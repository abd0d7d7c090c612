/* Truncates packets to a snap length read from an array (as a capture tap does) with
 * bpf_xdp_adjust_tail, after folding the bytes it cuts into a per-snap-length sum,
 * read 8 bytes at a time while 8 remain and then byte by byte. */
#include "xdp.h"

static long (*bpf_xdp_adjust_tail)(struct xdp_md *ctx, int delta) = (void *)65;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} snaplen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} cut SEC(".maps");         /* 0: bytes cut, 1: their sum */

SEC("xdp")
int snap_tail(struct xdp_md *ctx)
{
    __u32 zero = 0, one = 1;
    __u32 *snap = bpf_map_lookup_elem(&snaplen, &zero);
    if (!snap)
        return XDP_PASS;
    __u32 keep = *snap;
    if (keep < 64)
        keep = 64;
    if (keep > 4096)
        return XDP_PASS;
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u64 len = end - data;
    if (len <= keep || len > 4096)
        return XDP_PASS;
    __u64 sum = 0;
    __u8 *p = data + keep;
    for (int i = 0; i < 512; i++) {
        if ((void *)(p + 8) > end)
            break;
        sum += *(__u64 *)p;
        p += 8;
    }
    for (int i = 0; i < 8; i++) {
        if ((void *)(p + 1) > end)
            break;
        sum += *p;
        p++;
    }
    __u64 *bytes = bpf_map_lookup_elem(&cut, &zero), *total = bpf_map_lookup_elem(&cut, &one);
    if (bytes)
        *bytes += len - keep;
    if (total)
        *total += sum;
    if (bpf_xdp_adjust_tail(ctx, -(int)(len - keep)))
        return XDP_ABORTED;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
