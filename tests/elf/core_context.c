/* Programs that declare their context's struct in their own way and leave the fields'
 * places to CO-RE, as code written for user-space eBPF runtimes and loaded into the
 * kernel through libbpf does: `data` and `data_end` as 64-bit fields, the receive queue
 * before the interface, a field the kernel's struct does not have (read only where
 * bpf_core_field_exists says it is there), and for tc, `cb[]` and `mark` in another
 * order.  clang records a CO-RE relocation for each access to these types
 * (preserve_access_index); bpfjit resolves them against its contexts' fields. */
#include "bpf_defs.h"

#define FIELD_EXISTS 2          /* __builtin_preserve_field_info's BPF_FIELD_EXISTS */

struct xdp_md___wide {
    u64 data;
    u64 data_end;
    u32 rx_queue_index;
    u32 ingress_ifindex;
    u32 not_in_kernel;
} __attribute__((preserve_access_index));

/* the first two packet bytes, the queue and the interface: b0 + 256 b1 + 2^16 queue +
 * 2^24 ifindex; 1 for a packet shorter than 2 bytes */
SEC("xdp")
int wide_xdp(struct xdp_md___wide *ctx)
{
    unsigned char *data = (void *)(long)ctx->data;
    unsigned char *data_end = (void *)(long)ctx->data_end;
    u32 extra = 0;

    if (__builtin_preserve_field_info(ctx->not_in_kernel, FIELD_EXISTS))
        extra = ctx->not_in_kernel;
    if (data + 2 > data_end)
        return 1;
    return data[0] + (data[1] << 8) + (ctx->rx_queue_index << 16)
        + (ctx->ingress_ifindex << 24) + extra;
}

struct __sk_buff___few {
    u32 cb[5];
    u32 mark;
    u32 len;
} __attribute__((preserve_access_index));

/* mark + cb[2] + 1000 * len, and cb[4] set to 7 */
SEC("tc")
int few_skb(struct __sk_buff___few *skb)
{
    skb->cb[4] = 7;
    return skb->mark + skb->cb[2] + 1000 * skb->len;
}

char _license[] SEC("license") = "GPL";
