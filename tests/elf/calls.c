/* bpf-to-bpf calls: subprograms in .text called from the xdp section, and a second
 * entry point (a global function in its own section). */
#include "bpf_defs.h"

NOINLINE static u64 mix(u64 x, u64 y)
{
    x ^= y;
    x *= 0x9e3779b97f4a7c15ULL;
    return x ^ (x >> 29);
}

NOINLINE static u64 sum_bytes(const u8 *p, const u8 *end, u32 limit)
{
    u64 sum = 0;
    for (u32 i = 0; i < limit; i++) {
        if (p + i + 1 > end)
            break;
        sum = mix(sum, p[i]);
    }
    return sum;
}

SEC("xdp")
int hash_packet(struct xdp_md *ctx)
{
    const u8 *data = (const u8 *)(long)ctx->data;
    const u8 *end = (const u8 *)(long)ctx->data_end;
    u64 h = sum_bytes(data, end, 16);
    return (h & 1) ? XDP_DROP : XDP_PASS;
}

SEC("xdp/mix")
int mix_only(struct xdp_md *ctx)
{
    return (int)(mix(ctx->ingress_ifindex, 3) & 0x7fffffff);
}
