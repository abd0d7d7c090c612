/* One header pointer, three lengths: after an IPv6 header (fixed 40 bytes) the layer 4
 * header sits at offset 54 whatever the protocol, but each protocol checks its own
 * length (TCP 20 bytes, UDP 8, ICMPv6 4) before the paths meet; a lookup runs, then the
 * protocol is tested again and TCP's flags (byte 13) are read.  The kernel follows the
 * TCP path and sees its 20 bytes checked; bpfjit's join keeps only the least length
 * unless the protocol tells which (a len floor, bpfjit.verifier.guards).  The shape of
 * davidcoles/xvs's request path.
 * Returns XDP_DROP (1) for a TCP SYN without ACK and for a truncated header,
 * XDP_TX (3) for ICMPv6 echo requests (type 128), XDP_PASS (2) otherwise; counts each
 * protocol's packets in `seen` (by next-header value). */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, u32);
    __type(value, u64);
} seen SEC(".maps");

SEC("xdp")
int l4_lengths(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u8 *ip6 = data + sizeof(struct ethhdr);
    u8 *l4 = ip6 + 40;
    u32 next, key;
    u64 *count;

    if ((void *)l4 > data_end)
        return XDP_DROP;
    next = ip6[6];
    switch (next) {
    case 6:
        if ((void *)(l4 + 20) > data_end)
            return XDP_DROP;
        break;
    case 17:
        if ((void *)(l4 + 8) > data_end)
            return XDP_DROP;
        break;
    case 58:
        if ((void *)(l4 + 4) > data_end)
            return XDP_DROP;
        break;
    default:
        return XDP_PASS;
    }
    key = next;
    count = bpf_map_lookup_elem(&seen, &key);
    if (count)
        __sync_fetch_and_add(count, 1);
    if (next == 6)
        return (l4[13] & 0x12) == 0x02 ? XDP_DROP : XDP_PASS;
    if (next == 58 && l4[0] == 128)
        return XDP_TX;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
