/* A tc classifier on struct __sk_buff: marks IPv4 packets with their TTL, gives UDP a
 * priority and a class id, records the length in cb[0], counts bytes per protocol
 * and drops UDP to port 53 unless its source port is 53. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, u32);
    __type(value, u64);
} bytes_by_proto SEC(".maps");

SEC("tc")
int classify(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    skb->cb[0] = skb->len;
    if (skb->protocol != htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = data + sizeof(struct ethhdr);
    if ((void *)(ip + 1) > data_end)
        return TC_ACT_SHOT;
    skb->mark = ip->ttl;
    u32 proto = ip->protocol;
    u64 *total = bpf_map_lookup_elem(&bytes_by_proto, &proto);
    if (total) {
        *total += skb->len;
    } else {
        u64 first = skb->len;
        bpf_map_update_elem(&bytes_by_proto, &proto, &first, BPF_NOEXIST);
    }
    if (proto != IPPROTO_UDP)
        return TC_ACT_OK;
    skb->priority = 6;
    skb->tc_classid = 0x10002;
    struct ports *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > data_end)
        return TC_ACT_SHOT;
    if (udp->dest == htons(53) && udp->source != htons(53))
        return TC_ACT_SHOT;
    return TC_ACT_OK;
}
