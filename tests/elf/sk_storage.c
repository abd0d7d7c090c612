/* Socket storage as a service mesh keeps it, written for bpfjit's tests: one value per
 * socket in `conns`, made by the first program that asks for it with
 * BPF_SK_STORAGE_GET_F_CREATE and found by every later one given the same socket.
 *
 *   on_connect (cgroup/connect4) counts the socket's connects and keeps the port it
 *              asked for (user_port, network order in the low half).
 *   on_ops     (sockops) reply = the socket's connect count, 0xffff without a value
 *              (and 0xfffe when sk is NULL: no full socket).
 *   on_msg     (sk_msg) passes messages of sockets with a value, drops the others;
 *              a message starting with 'Q' drops the value (SK_PASS still).
 *   on_packet  (tc) finds the local TCP socket an IPv4 packet is for, and counts the
 *              packet in its value, made from one that starts at 1000 packets; r0 =
 *              the count's low 16 bits, 0 without a socket.
 */
#include "bpf_defs.h"

struct conn {
    u32 connects;
    u32 port;
    u64 packets;
};

struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct conn);
} conns SEC(".maps");

SEC("cgroup/connect4")
int on_connect(struct bpf_sock_addr *ctx)
{
    struct conn *c = bpf_sk_storage_get(&conns, (void *)(long)ctx->sk, 0,
                                        BPF_SK_STORAGE_GET_F_CREATE);

    if (c) {
        c->connects++;
        c->port = ctx->user_port;
    }
    return 1;
}

SEC("sockops")
int on_ops(struct bpf_sock_ops *skops)
{
    struct bpf_sock *sk = (struct bpf_sock *)(long)skops->sk;
    struct conn *c;

    if (!sk) {
        skops->reply = 0xfffe;
        return 1;
    }
    c = bpf_sk_storage_get(&conns, sk, 0, 0);
    skops->reply = c ? c->connects : 0xffff;
    return 1;
}

SEC("sk_msg")
int on_msg(struct sk_msg_md *msg)
{
    void *data = (void *)(long)msg->data, *end = (void *)(long)msg->data_end;
    void *sk = (void *)(long)msg->sk;

    if (!bpf_sk_storage_get(&conns, sk, 0, 0))
        return SK_DROP;
    if (data + 1 <= end && *(u8 *)data == 'Q')
        bpf_sk_storage_delete(&conns, sk);
    return SK_PASS;
}

SEC("tc")
int on_packet(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    struct ports *ports = (void *)(ip + 1);
    struct bpf_sock_tuple tuple = {};
    struct conn init = { .packets = 1000 };
    struct bpf_sock *sk;
    struct conn *c;
    int seen = 0;

    if ((void *)(ports + 1) > end || eth->h_proto != htons(ETH_P_IP)
            || ip->protocol != IPPROTO_TCP)
        return 0;
    tuple.ipv4.saddr = ip->saddr;
    tuple.ipv4.daddr = ip->daddr;
    tuple.ipv4.sport = ports->source;
    tuple.ipv4.dport = ports->dest;
    sk = bpf_sk_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
    if (!sk)
        return 0;
    c = bpf_sk_storage_get(&conns, sk, &init, BPF_SK_STORAGE_GET_F_CREATE);
    if (c) {
        c->packets++;
        seen = c->packets & 0xffff;
    }
    bpf_sk_release(sk);
    return seen;
}

char LICENSE[] SEC("license") = "GPL";
