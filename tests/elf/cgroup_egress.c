/* A cgroup_skb egress filter, as container runtimes attach them: the packet starts at
 * its IPv4 header (no Ethernet header in a cgroup's socket buffers).  It counts the
 * packets and bytes it sees (slots 0 and 1 of `egress`, from skb->len), marks packets
 * to UDP port 53 (skb->mark = 53), and denies those to TCP port 23 (returns 0); every
 * other packet is allowed (1).  Not IPv4 (skb->protocol): allowed, counted only. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, u32);
    __type(value, u64);
} egress SEC(".maps");

static void add(u32 slot, u64 amount)
{
    u64 *v = bpf_map_lookup_elem(&egress, &slot);
    if (v)
        __sync_fetch_and_add(v, amount);
}

SEC("cgroup_skb/egress")
int filter_egress(struct __sk_buff *skb)
{
    add(0, 1);
    add(1, skb->len);
    if (skb->protocol != __builtin_bswap16(0x0800))
        return 1;
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    struct iphdr *ip = data;
    if ((void *)(ip + 1) > data_end || (ip->ihl_version & 0x0f) != 5)
        return 1;
    struct ports *l4 = (void *)(ip + 1);
    if ((void *)(l4 + 1) > data_end)
        return 1;
    if (ip->protocol == 6 && l4->dest == __builtin_bswap16(23))
        return 0;
    if (ip->protocol == 17 && l4->dest == __builtin_bswap16(53))
        skb->mark = 53;
    return 1;
}

char LICENSE[] SEC("license") = "GPL";
