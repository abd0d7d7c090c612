/* Socket lookups as tc and XDP programs do them: the packet's addresses and ports
 * looked up among the host's sockets (env.sockets in bpfjit), the socket's fields
 * read, and the reference the lookup took given back on every path.
 *
 *   tc_steer  (tc, IPv4) TCP: bpf_skc_lookup_tcp, UDP: bpf_sk_lookup_udp.  No socket:
 *             TC_ACT_SHOT.  Found: `seen[0]` = state << 32 | local port << 16 | remote
 *             port (read in network order, as 2 bytes, swapped); mark = 1 for a TCP
 *             listener, else the (full) socket's mark; TC_ACT_OK.  The namespace
 *             looked in is `lookup_netns` (.data).
 *   xdp_v6    (XDP, IPv6 TCP) bpf_sk_lookup_tcp with the 36-byte tuple.  No socket:
 *             XDP_DROP.  Found: `seen[1]` = family, `seen[2]` = the last word of the
 *             remote address (dst_ip6[3], network order), `seen[3]` = bound_dev_if;
 *             XDP_PASS.
 *   tc_proxy  (tc) a transparent proxy's steering: the listener for the packet's
 *             protocol taken from a sockmap (`listeners`: 0 TCP, 1 UDP), the packet
 *             given to it with bpf_sk_assign; r0 = sk_assign's result, or 1 when the
 *             map holds no socket for the protocol, 2 for other protocols.
 */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, u64);
} seen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_SOCKMAP);
    __uint(max_entries, 2);
    __type(key, u32);
    __type(value, u64);
} listeners SEC(".maps");

u64 lookup_netns = BPF_F_CURRENT_NETNS;

struct ipv6hdr {
    u32 vtc_flow;
    u16 payload_len;
    u8 nexthdr;
    u8 hop_limit;
    u32 saddr[4];
    u32 daddr[4];
};

static void record(u32 slot, u64 value)
{
    u64 *out = bpf_map_lookup_elem(&seen, &slot);
    if (out)
        *out = value;
}

SEC("tc")
int tc_steer(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    struct ports *ports = (void *)(ip + 1);
    struct bpf_sock_tuple tuple = {};

    if ((void *)(ports + 1) > end || eth->h_proto != htons(ETH_P_IP))
        return TC_ACT_OK;
    tuple.ipv4.saddr = ip->saddr;
    tuple.ipv4.daddr = ip->daddr;
    tuple.ipv4.sport = ports->source;
    tuple.ipv4.dport = ports->dest;
    if (ip->protocol == IPPROTO_TCP) {
        struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4),
                                                 lookup_netns, 0);

        if (!sk)
            return TC_ACT_SHOT;
        record(0, (u64)sk->state << 32 | sk->src_port << 16 | ntohs(sk->dst_port));
        if (sk->state == BPF_TCP_LISTEN) {
            skb->mark = 1;
        } else {
            struct bpf_sock *full = bpf_sk_fullsock(sk);

            if (full)
                skb->mark = full->mark;
        }
        bpf_sk_release(sk);
        return TC_ACT_OK;
    }
    if (ip->protocol == IPPROTO_UDP) {
        struct bpf_sock *sk = bpf_sk_lookup_udp(skb, &tuple, sizeof(tuple.ipv4),
                                                lookup_netns, 0);

        if (!sk)
            return TC_ACT_SHOT;
        skb->mark = sk->mark;
        record(0, (u64)sk->state << 32 | sk->src_port << 16 | ntohs(sk->dst_port));
        bpf_sk_release(sk);
        return TC_ACT_OK;
    }
    return TC_ACT_OK;
}

SEC("xdp")
int xdp_v6(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    struct ports *ports = (void *)(ip6 + 1);
    struct bpf_sock_tuple tuple = {};
    struct bpf_sock *sk;

    if ((void *)(ports + 1) > end || eth->h_proto != htons(0x86DD)
            || ip6->nexthdr != IPPROTO_TCP)
        return 2;
    for (int i = 0; i < 4; i++) {
        tuple.ipv6.saddr[i] = ip6->saddr[i];
        tuple.ipv6.daddr[i] = ip6->daddr[i];
    }
    tuple.ipv6.sport = ports->source;
    tuple.ipv6.dport = ports->dest;
    sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
    if (!sk)
        return 1;
    record(1, sk->family);
    record(2, sk->dst_ip6[3]);
    record(3, sk->bound_dev_if);
    bpf_sk_release(sk);
    return 2;
}

SEC("tc")
int tc_proxy(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    struct bpf_sock *sk;
    u32 key;
    long ret;

    if ((void *)(ip + 1) > end || eth->h_proto != htons(ETH_P_IP))
        return 2;
    if (ip->protocol == IPPROTO_TCP)
        key = 0;
    else if (ip->protocol == IPPROTO_UDP)
        key = 1;
    else
        return 2;
    sk = bpf_map_lookup_elem(&listeners, &key);
    if (!sk)
        return 1;
    ret = bpf_sk_assign(skb, sk, 0);
    bpf_sk_release(sk);
    return ret;
}

char LICENSE[] SEC("license") = "GPL";
