/* Programs that keep the host's connections in socket maps, as a tracer's tc hook
 * registers the sockets it sees (OpenTelemetry eBPF Instrumentation's tctracer keeps
 * them in a sockhash for its sk_msg program to find).
 *
 *   remember  (tc) for an IPv4 TCP packet: the socket it belongs to (bpf_sk_lookup_tcp
 *             on the packet's own tuple) put in `conns` under the packet's 4-tuple
 *             with the flags in `update_flags` (.data), and in `slots` at index
 *             `slot`; the two results in `results[0]` and `[1]`; TC_ACT_OK.
 *   forget    (XDP) for an IPv4 TCP packet with RST: the `conns` entry of its
 *             4-tuple deleted, the result in `results[2]`; XDP_PASS.
 */
#include "bpf_defs.h"

struct conn_key {
    u32 saddr;
    u32 daddr;
    u16 sport;
    u16 dport;
};

struct {
    __uint(type, BPF_MAP_TYPE_SOCKHASH);
    __uint(max_entries, 8);
    __type(key, struct conn_key);
    __type(value, u64);
} conns SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_SOCKMAP);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, u64);
} slots SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, u32);
    __type(value, s64);
} results SEC(".maps");

u64 update_flags = BPF_ANY;
u32 slot = 0;

struct tcp_start {
    u16 source;
    u16 dest;
    u32 seq;
    u32 ack_seq;
    u8 offset;
    u8 flags;
};

static void record(u32 index, s64 value)
{
    s64 *out = bpf_map_lookup_elem(&results, &index);
    if (out)
        *out = value;
}

static int conn_of(void *data, void *end, struct conn_key *key, u8 *flags)
{
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    struct tcp_start *tcp = (void *)(ip + 1);

    if ((void *)(tcp + 1) > end || eth->h_proto != htons(ETH_P_IP)
        || ip->protocol != IPPROTO_TCP)
        return 0;
    key->saddr = ip->saddr;
    key->daddr = ip->daddr;
    key->sport = tcp->source;
    key->dport = tcp->dest;
    *flags = tcp->flags;
    return 1;
}

SEC("tc")
int remember(struct __sk_buff *skb)
{
    struct conn_key key = {};
    struct bpf_sock_tuple tuple = {};
    struct bpf_sock *sk;
    u8 flags;

    if (!conn_of((void *)(long)skb->data, (void *)(long)skb->data_end, &key, &flags))
        return TC_ACT_OK;
    tuple.ipv4.saddr = key.saddr;
    tuple.ipv4.daddr = key.daddr;
    tuple.ipv4.sport = key.sport;
    tuple.ipv4.dport = key.dport;
    sk = bpf_sk_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
    if (!sk)
        return TC_ACT_OK;
    record(0, bpf_map_update_elem(&conns, &key, sk, update_flags));
    record(1, bpf_map_update_elem(&slots, &slot, sk, BPF_ANY));
    bpf_sk_release(sk);
    return TC_ACT_OK;
}

SEC("xdp")
int forget(struct xdp_md *ctx)
{
    struct conn_key key = {};
    u8 flags;

    if (conn_of((void *)(long)ctx->data, (void *)(long)ctx->data_end, &key, &flags)
        && flags & 0x04)
        record(2, bpf_map_delete_elem(&conns, &key));
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
