/* A stateless load balancer: UDP and TCP over IPv4 are hashed on their addresses and
 * ports, and the hash modulo the number of backends (read from a config array, at
 * most 16) picks a backend whose MAC and IPv4 address are written into the packet;
 * the IPv4 checksum is patched for the new destination (RFC 1624) and the packet sent
 * back out.  Picks counted per backend. */
#include "xdp.h"

struct backend {
    __u8 mac[6];
    __u8 pad[2];
    __be32 addr;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, struct backend);
} backends SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} config SEC(".maps");             /* how many backends are in use */

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, __u64);
} picks SEC(".maps");

static __always_inline __u16 fold(__u32 sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)((sum & 0xffff) + (sum >> 16));
}

SEC("xdp")
int lb_pick(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->ihl != 5)
        return XDP_PASS;
    if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
        return XDP_PASS;
    __be16 *ports = (void *)(ip + 1);
    if ((void *)(ports + 2) > end)
        return XDP_PASS;
    __u32 zero = 0;
    __u32 *count = bpf_map_lookup_elem(&config, &zero);
    if (!count || *count == 0 || *count > 16)
        return XDP_PASS;
    __u32 hash = ip->saddr * 0x9e3779b1u ^ ip->daddr;
    hash = (hash ^ ((__u32)ports[0] << 16 | ports[1])) * 0x85ebca6bu;
    hash ^= hash >> 13;
    __u32 which = hash % *count;
    struct backend *b = bpf_map_lookup_elem(&backends, &which);
    if (!b)
        return XDP_ABORTED;
    /* RFC 1624: HC' = ~(~HC + ~m + m') over the two 16-bit halves of the address */
    __u32 old = ip->daddr, new = b->addr;
    __u32 sum = (__u16)~ip->check;
    sum += (__u16)~old + (__u16)~(old >> 16) + (__u16)new + (__u16)(new >> 16);
    ip->check = ~fold(sum);
    ip->daddr = new;
    __builtin_memcpy(eth->h_source, eth->h_dest, 6);
    __builtin_memcpy(eth->h_dest, b->mac, 6);
    __u64 *n = bpf_map_lookup_elem(&picks, &which);
    if (n)
        *n += 1;
    return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
