/* sk_skb programs of a socket map: what arrives on a socket in `socks` is parsed into
 * messages and each given a verdict, as a user-space proxy's sockmap offload does.
 *
 *   parse    (sk_skb/stream_parser) a message is the whole of what arrived: skb->len.
 *   steer    (sk_skb/stream_verdict) by its first byte: 'A' goes to socks[0] (sent out),
 *            'B' to socks[1] (received, BPF_F_INGRESS), 'X' is dropped, anything else
 *            passes to the socket it arrived on; tc_index = the first byte.
 */
#include "bpf_defs.h"

static long (*bpf_sk_redirect_map)(void *skb, void *map, u32 key, u64 flags) = (void *)52;

struct {
    __uint(type, BPF_MAP_TYPE_SOCKMAP);
    __uint(max_entries, 2);
    __type(key, u32);
    __type(value, u64);
} socks SEC(".maps");

SEC("sk_skb/stream_parser")
int parse(struct __sk_buff *skb)
{
    return skb->len;
}

SEC("sk_skb/stream_verdict")
int steer(struct __sk_buff *skb)
{
    u8 *data = (u8 *)(long)skb->data, *end = (u8 *)(long)skb->data_end;

    if (data + 1 > end)
        return SK_PASS;
    skb->tc_index = data[0];
    if (data[0] == 'A')
        return bpf_sk_redirect_map(skb, &socks, 0, 0);
    if (data[0] == 'B')
        return bpf_sk_redirect_map(skb, &socks, 1, BPF_F_INGRESS);
    if (data[0] == 'X')
        return SK_DROP;
    return SK_PASS;
}

char _license[] SEC("license") = "GPL";
