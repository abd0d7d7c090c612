/* A tc classifier that copies a TCP header's options onto the stack with
 * bpf_skb_load_bytes and parses them there: the option walk indexes a stack array
 * with a data-dependent offset (kind, length, value), as programs do that do not
 * trust packet pointers.  The timestamp option's TSval of each flow's latest packet
 * is kept in an LRU hash keyed by the 4-tuple (a struct key); segments whose TSval
 * went backwards for their flow get mark 1 (skb->mark), others 0. */
#include "xdp.h"

static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to,
                                  __u32 len) = (void *)26;

enum { BPF_MAP_TYPE_LRU_HASH = 9 };
#define TC_ACT_OK 0
#define OPT_ROOM 40

struct __sk_buff {
    __u32 len;
    __u32 pkt_type;
    __u32 mark;
    __u32 queue_mapping;
    __u32 protocol;
};

struct flow {
    __be32 saddr;
    __be32 daddr;
    __be16 sport;
    __be16 dport;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 128);
    __type(key, struct flow);
    __type(value, __u32);
} last_tsval SEC(".maps");

static __always_inline int find_tsval(const __u8 *opts, __u32 room, __u32 *tsval)
{
    __u32 at = 0;
    for (int n = 0; n < OPT_ROOM && at < room; n++) {
        __u8 kind = opts[at];
        if (kind == 0)
            return 0;                           /* end of options */
        if (kind == 1) {                        /* no-op */
            at++;
            continue;
        }
        if (at + 1 >= room)
            return 0;
        __u8 len = opts[at + 1];
        if (len < 2 || at + len > room)
            return 0;
        if (kind == 8 && len == 10) {
            *tsval = (__u32)opts[at + 2] << 24 | (__u32)opts[at + 3] << 16 |
                     (__u32)opts[at + 4] << 8 | opts[at + 5];
            return 1;
        }
        at += len;
    }
    return 0;
}

SEC("tc")
int tcp_ts(struct __sk_buff *skb)
{
    struct ethhdr eth;
    struct iphdr ip;
    struct tcphdr tcp;
    __u8 opts[OPT_ROOM];
    skb->mark = 0;
    if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0 ||
        eth.h_proto != bpf_htons(ETH_P_IP))
        return TC_ACT_OK;
    if (bpf_skb_load_bytes(skb, sizeof(eth), &ip, sizeof(ip)) < 0 ||
        ip.protocol != IPPROTO_TCP || ip.ihl < 5)
        return TC_ACT_OK;
    __u32 at = sizeof(eth) + ip.ihl * 4;
    if (bpf_skb_load_bytes(skb, at, &tcp, sizeof(tcp)) < 0)
        return TC_ACT_OK;
    __u32 doff = (bpf_ntohs(tcp.flags) >> 12) * 4;
    if (doff <= sizeof(tcp))
        return TC_ACT_OK;
    __u32 room = doff - sizeof(tcp);
    if (room > OPT_ROOM)
        room = OPT_ROOM;
    if (bpf_skb_load_bytes(skb, at + sizeof(tcp), opts, room) < 0)
        return TC_ACT_OK;
    __u32 tsval;
    if (!find_tsval(opts, room, &tsval))
        return TC_ACT_OK;
    struct flow key = { ip.saddr, ip.daddr, tcp.source, tcp.dest };
    __u32 *last = bpf_map_lookup_elem(&last_tsval, &key);
    if (last && (int)(tsval - *last) < 0)
        skb->mark = 1;
    bpf_map_update_elem(&last_tsval, &key, &tsval, BPF_ANY);
    return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
