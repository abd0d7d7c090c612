/* An IP-in-IP load balancer in the style of the public XDP load balancers: UDP and TCP
 * packets to the virtual IP 10.0.0.100 are hashed on their source address and ports to
 * one of four backends, encapsulated in an outer IPv4 header (bpf_xdp_adjust_head) and
 * redirected through a DEVMAP to the backend's device; everything else passes. */
#include "bpf_defs.h"

#define VIP 0x6400000a          /* 10.0.0.100 as the packet stores it */
#define BACKENDS 4

struct backend {
    u32 addr;                   /* network order */
    u8 mac[6];
    u16 port_index;             /* the tx_ports entry to leave by */
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, BACKENDS);
    __type(key, u32);
    __type(value, struct backend);
} backends SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_DEVMAP);
    __uint(max_entries, 8);
    __type(key, u32);
    __type(value, u32);
} tx_ports SEC(".maps");

static __attribute__((always_inline)) u16 fold(u32 sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return ~sum;
}

SEC("xdp")
int balance(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = data + sizeof(*eth);
    if ((void *)(ip + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;
    if (ip->daddr != VIP || (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP)
        || ip->ihl_version != 0x45)
        return XDP_PASS;
    struct ports *ports = (void *)(ip + 1);
    if ((void *)(ports + 1) > data_end)
        return XDP_DROP;
    u32 key = (ip->saddr ^ ports->source ^ ports->dest) % BACKENDS;
    struct backend *be = bpf_map_lookup_elem(&backends, &key);
    if (!be || !be->addr)
        return XDP_DROP;
    struct iphdr inner = *ip;
    u16 port_index = be->port_index;
    u32 backend_addr = be->addr;
    u8 mac[6], source[6];
    __builtin_memcpy(mac, be->mac, 6);
    __builtin_memcpy(source, eth->h_source, 6);

    if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
        return XDP_ABORTED;
    data = (void *)(long)ctx->data;
    data_end = (void *)(long)ctx->data_end;
    struct ethhdr *new_eth = data;
    struct iphdr *outer = data + sizeof(*new_eth);
    if ((void *)(outer + 1) > data_end)
        return XDP_ABORTED;
    __builtin_memcpy(new_eth->h_dest, mac, 6);
    __builtin_memcpy(new_eth->h_source, source, 6);
    new_eth->h_proto = htons(ETH_P_IP);
    outer->ihl_version = 0x45;
    outer->tos = 0;
    outer->tot_len = htons(ntohs(inner.tot_len) + sizeof(struct iphdr));
    outer->id = 0;
    outer->frag_off = 0;
    outer->ttl = 64;
    outer->protocol = 4;         /* IP in IP */
    outer->check = 0;
    outer->saddr = VIP;
    outer->daddr = backend_addr;
    u32 sum = 0;
    u16 *words = (u16 *)outer;
    for (int i = 0; i < 10; i++)
        sum += words[i];
    outer->check = fold(sum);
    return bpf_redirect_map(&tx_ports, port_index, XDP_DROP);
}
