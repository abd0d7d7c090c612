/* Drops DNS queries for blocked names: a UDP packet to port 53 has its question name
 * walked label by label (at most 8 labels of at most 31 bytes), folded to lower case
 * (bit 5 set: letters, digits and '-' alike) into an FNV-1a hash, which is looked up
 * in a hash map of blocked names.  Queries counted by outcome.  The running kernel
 * refuses it (more than a million instructions processed: each label's length sends
 * the walk on from a different place, so no two paths' states are alike); bpfjit's
 * strict mode proves every access. */
#include "xdp.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u64);
    __type(value, __u32);
} blocked SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, __u32);
    __type(value, __u64);
} outcome SEC(".maps");        /* 0: passed, 1: blocked, 2: malformed */

static __always_inline int counted(__u32 what, int verdict)
{
    __u64 *n = bpf_map_lookup_elem(&outcome, &what);
    if (n)
        *n += 1;
    return verdict;
}

SEC("xdp")
int dns_block(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
        return XDP_PASS;
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end || udp->dest != bpf_htons(53))
        return XDP_PASS;
    __u8 *name = (__u8 *)(udp + 1) + 12;         /* past the DNS header */
    __u64 hash = 0xcbf29ce484222325ull;
    for (int label = 0; label < 8; label++) {
        if ((void *)(name + 1) > end)
            return counted(2, XDP_PASS);
        __u8 n = *name++;
        if (n == 0)
            goto done;
        if (n > 31)
            return counted(2, XDP_PASS);
        if (label)
            hash = (hash ^ '.') * 0x100000001b3ull;
        for (int i = 0; i < 31; i++) {
            if (i >= n)
                break;
            if ((void *)(name + 1) > end)
                return counted(2, XDP_PASS);
            __u8 c = *name++ | 0x20;        /* letters to lower case, no branch */
            hash = (hash ^ c) * 0x100000001b3ull;
        }
    }
    return counted(2, XDP_PASS);                  /* more than 8 labels */
done:
    if (bpf_map_lookup_elem(&blocked, &hash))
        return counted(1, XDP_DROP);
    return counted(0, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
