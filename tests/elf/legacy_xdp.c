/* Programs in sections older loaders named freely (samples/bpf style): the type comes
 * from the prefix.  xdp1 drops IPv6 and passes the rest; socket1 keeps 64 bytes. */
#include "bpf_defs.h"

SEC("xdp1")
int xdp_no_ipv6(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return XDP_ABORTED;
    return eth->h_proto == htons(0x86DD) ? XDP_DROP : XDP_PASS;
}

SEC("socket1")
int keep_headers(struct __sk_buff *skb)
{
    return skb->len < 64 ? skb->len : 64;
}
