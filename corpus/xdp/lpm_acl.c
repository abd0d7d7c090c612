/* A source-prefix ACL: IPv4 sources are looked up in a longest-prefix-match trie of
 * rules (prefix length, address) whose value is a verdict and a rule number; each
 * rule's hits are counted in a per-CPU array.  Packets no rule covers pass. */
#include "xdp.h"

#define LPM_TRIE 11
#define NO_PREALLOC 1

struct prefix {
    __u32 prefixlen;
    __u8 addr[4];
};

struct rule {
    __u32 verdict;          /* XDP_DROP or XDP_PASS */
    __u32 number;           /* 0 .. 15 */
};

struct {
    __uint(type, LPM_TRIE);
    __uint(max_entries, 64);
    __uint(map_flags, NO_PREALLOC);
    __type(key, struct prefix);
    __type(value, struct rule);
} rules SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, __u64);
} hits SEC(".maps");

SEC("xdp")
int lpm_acl(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end)
        return XDP_PASS;
    struct prefix key = { .prefixlen = 32 };
    __builtin_memcpy(key.addr, &ip->saddr, 4);
    struct rule *rule = bpf_map_lookup_elem(&rules, &key);
    if (!rule)
        return XDP_PASS;
    __u32 number = rule->number & 15;
    __u64 *count = bpf_map_lookup_elem(&hits, &number);
    if (count)
        *count += 1;
    return rule->verdict == XDP_DROP ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
