/* An XDP firewall: parses Ethernet / IPv4 / TCP-UDP, drops telnet (port 23) and
 * packets from source addresses in a blocklist (hash map); passes the rest.  Counts
 * drops and passes in a legacy map (SEC("maps")). */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, u32);
    __type(value, u32);
} blocklist SEC(".maps");

struct bpf_map_def SEC("maps") verdicts = {
    .type = BPF_MAP_TYPE_ARRAY,
    .key_size = sizeof(u32),
    .value_size = sizeof(u64),
    .max_entries = 8,
};

static __attribute__((always_inline)) int verdict(u32 action)
{
    u64 *n = bpf_map_lookup_elem(&verdicts, &action);
    if (n)
        *n += 1;
    return action;
}

SEC("xdp")
int firewall(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return verdict(XDP_DROP);            /* runt frame */
    if (eth->h_proto != htons(ETH_P_IP))
        return verdict(XDP_PASS);
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
        return verdict(XDP_DROP);
    u32 saddr = ip->saddr;
    if (bpf_map_lookup_elem(&blocklist, &saddr))
        return verdict(XDP_DROP);
    if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
        struct ports *ports = (void *)ip + (ip->ihl_version & 0x0f) * 4;
        if ((void *)(ports + 1) > data_end)
            return verdict(XDP_DROP);
        if (ports->dest == htons(23))
            return verdict(XDP_DROP);
    }
    return verdict(XDP_PASS);
}
