/* IPv4 header checksum verification: sums the header's 16-bit words in a loop bounded
 * by its variable length (IHL), drops packets whose checksum is wrong, and keeps
 * verdict counters through a void function that takes a pointer to a stack record. */
#include "xdp.h"

struct verdicts {
    __u64 good;
    __u64 bad;
    __u64 short_packets;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct verdicts);
} totals SEC(".maps");

struct note {
    __u32 kind;
    __u32 words;
};

static __noinline void record(struct note *n)
{
    __u32 zero = 0;
    struct verdicts *v = bpf_map_lookup_elem(&totals, &zero);
    if (!v)
        return;
    if (n->kind == 0)
        v->good += 1;
    else if (n->kind == 1)
        v->bad += 1;
    else
        v->short_packets += 1;
}

static __noinline __u32 fold(__u32 sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    return (sum & 0xffff) + (sum >> 16);
}

SEC("xdp")
int ip_csum(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct note n = { 2, 0 };
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) {
        record(&n);
        return XDP_PASS;
    }
    __u32 words = ip->ihl * 2;
    if (words < 10 || (void *)ip + words * 2 > data_end) {
        record(&n);
        return XDP_DROP;
    }
    __u16 *w = (void *)ip;
    __u32 sum = 0;
    for (__u32 i = 0; i < 30 && i < words; i++) {
        if ((void *)(w + i + 1) > data_end)
            break;
        sum += w[i];
    }
    n.words = words;
    n.kind = fold(sum) == 0xffff ? 0 : 1;
    record(&n);
    return n.kind == 0 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
