/* The example firewall of bpfjit's README: an XDP program as people write them for
 * the kernel, tested in pytest with scapy packets (test_firewall.py).
 *
 * It drops telnet (TCP port 23), IPv4 packets with options, and packets from the
 * source addresses in `blocklist` (a hash map the control plane, or a test, fills);
 * it passes the rest.  `counters` counts packets per XDP action. */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

enum { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX };

struct xdp_md { u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index,
                egress_ifindex; };
struct ethhdr { u8 dst[6], src[6]; u16 proto; };
struct iphdr { u8 ihl_version, tos; u16 tot_len, id, frag_off; u8 ttl, protocol;
               u16 check; u32 saddr, daddr; };
struct tcphdr { u16 source, dest; };

struct {
    __uint(type, 1);                    /* BPF_MAP_TYPE_HASH */
    __uint(max_entries, 256);
    __type(key, u32);                   /* an IPv4 source address, network order */
    __type(value, u32);
} blocklist SEC(".maps");

struct {
    __uint(type, 2);                    /* BPF_MAP_TYPE_ARRAY */
    __uint(max_entries, 4);
    __type(key, u32);                   /* the XDP action */
    __type(value, u64);                 /* packets */
} counters SEC(".maps");

static __attribute__((always_inline)) int count(u32 action)
{
    u64 *packets = bpf_map_lookup_elem(&counters, &action);
    if (packets)
        *packets += 1;
    return action;
}

SEC("xdp")
int firewall(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;

    if ((void *)(eth + 1) > data_end)
        return count(XDP_DROP);                         /* shorter than Ethernet */
    if (eth->proto != __builtin_bswap16(0x0800))
        return count(XDP_PASS);                         /* not IPv4: not ours */

    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
        return count(XDP_DROP);
    if ((ip->ihl_version & 0x0f) != 5)
        return count(XDP_DROP);                         /* IP options */
    if (bpf_map_lookup_elem(&blocklist, &ip->saddr))
        return count(XDP_DROP);                         /* a blocked source */

    if (ip->protocol == 6) {
        struct tcphdr *tcp = (void *)(ip + 1);
        if ((void *)(tcp + 1) > data_end)
            return count(XDP_DROP);
        if (tcp->dest == __builtin_bswap16(23))
            return count(XDP_DROP);                     /* telnet */
    }
    return count(XDP_PASS);
}
