/* A token-bucket meter per flow: IPv4 or IPv6, TCP or UDP, keyed by a 5-tuple built
 * on the stack; buckets live in a hash map, refilled from bpf_ktime_get_ns().
 * Many header pointers stay live across the helper calls. */
#include "xdp.h"

#define RATE_PER_MS 4
#define BURST 8

struct flow {
    __u8 addr[16];
    __be16 sport;
    __be16 dport;
    __u8 proto;
    __u8 family;
    __u16 pad;
};

struct bucket {
    __u64 tokens;
    __u64 stamp;
    __u64 dropped;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 128);
    __type(key, struct flow);
    __type(value, struct bucket);
} buckets SEC(".maps");

static __always_inline int ports(void *l4, void *end, __u8 proto, struct flow *f)
{
    if (proto == IPPROTO_TCP) {
        struct tcphdr *t = l4;
        if ((void *)(t + 1) > end)
            return -1;
        f->sport = t->source;
        f->dport = t->dest;
        return 0;
    }
    if (proto == IPPROTO_UDP) {
        struct udphdr *u = l4;
        if ((void *)(u + 1) > end)
            return -1;
        f->sport = u->source;
        f->dport = u->dest;
        return 0;
    }
    return -1;
}

SEC("xdp")
int flow_meter(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct flow f;
    __builtin_memset(&f, 0, sizeof(f));
    if ((void *)(eth + 1) > data_end)
        return XDP_DROP;
    void *l4;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > data_end)
            return XDP_DROP;
        __builtin_memcpy(f.addr, &ip->saddr, 4);
        f.proto = ip->protocol;
        f.family = 4;
        l4 = (void *)ip + ip->ihl * 4;
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > data_end)
            return XDP_DROP;
        __builtin_memcpy(f.addr, ip6->saddr, 16);
        f.proto = ip6->nexthdr;
        f.family = 6;
        l4 = ip6 + 1;
    } else {
        return XDP_PASS;
    }
    if (ports(l4, data_end, f.proto, &f) < 0)
        return XDP_PASS;
    __u64 now = bpf_ktime_get_ns() / 1000000;
    struct bucket *b = bpf_map_lookup_elem(&buckets, &f);
    if (!b) {
        struct bucket fresh = { BURST - 1, now, 0 };
        bpf_map_update_elem(&buckets, &f, &fresh, BPF_NOEXIST);
        return XDP_PASS;
    }
    __u64 refill = (now - b->stamp) * RATE_PER_MS;
    __u64 tokens = b->tokens + refill;
    b->tokens = tokens > BURST ? BURST : tokens;
    b->stamp = now;
    if (b->tokens == 0) {
        b->dropped++;
        return XDP_DROP;
    }
    b->tokens--;
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
