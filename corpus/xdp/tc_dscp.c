/* A tc classifier that remarks DSCP: IPv4 packets to a UDP or TCP port listed in a hash
 * map get that port's DSCP in their TOS byte, the header checksum patched with
 * bpf_l3_csum_replace, and skb->priority set from the class; the packet's fields are
 * read with direct packet access, which must be checked again after the helper, which
 * may move the packet. */
#include "xdp.h"

struct __sk_buff {
    __u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto;
    __u32 priority, ingress_ifindex, ifindex, tc_index, cb[5], hash, tc_classid;
    __u32 data, data_end;
};

static long (*bpf_l3_csum_replace)(struct __sk_buff *skb, __u32 offset, __u64 from,
                                   __u64 to, __u64 size) = (void *)10;

#define TC_ACT_OK 0

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 32);
    __type(key, __u16);
    __type(value, __u8);
} classes SEC(".maps");        /* destination port (host order) -> DSCP */

SEC("tc")
int tc_dscp(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end)
        return TC_ACT_OK;
    __u32 ihl = ip->ihl * 4;
    if (ihl < 20 || (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP))
        return TC_ACT_OK;
    __be16 *ports = (void *)ip + ihl;
    if ((void *)(ports + 2) > end)
        return TC_ACT_OK;
    __u16 port = bpf_ntohs(ports[1]);
    __u8 *dscp = bpf_map_lookup_elem(&classes, &port);
    if (!dscp)
        return TC_ACT_OK;
    __u8 old = ip->tos, tos = (__u8)(*dscp << 2 | (old & 3));
    if (tos == old)
        return TC_ACT_OK;
    /* the checksum covers the TOS as the first byte of a 16-bit word with the version */
    __u16 from = bpf_htons((__u16)(ip->ihl | ip->version << 4) << 8 | old);
    __u16 to = bpf_htons((__u16)(ip->ihl | ip->version << 4) << 8 | tos);
    if (bpf_l3_csum_replace(skb, sizeof(*eth) + 10, from, to, 2))
        return TC_ACT_OK;
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
    ip = data + sizeof(*eth);
    if ((void *)(ip + 1) > end)
        return TC_ACT_OK;
    ip->tos = tos;
    skb->priority = *dscp >> 3;
    return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
