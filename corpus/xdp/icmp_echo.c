/* Answers ICMP echo requests in place: the Ethernet and IPv4 addresses are swapped,
 * the type becomes an echo reply, and the ICMP checksum is recomputed over the whole
 * message (at most 256 bytes, 16-bit words folded, an odd last byte padded) rather
 * than patched; the packet goes back out with XDP_TX.  Replies counted.  The running
 * kernel refuses it (a packet offset it cannot bound in the summing loop); bpfjit's
 * strict mode proves every access. */
#include "xdp.h"

struct icmphdr {
    __u8 type;
    __u8 code;
    __u16 checksum;
    __be16 id;
    __be16 sequence;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} replies SEC(".maps");

SEC("xdp")
int icmp_echo(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != 1 || ip->ihl != 5)
        return XDP_PASS;
    struct icmphdr *icmp = (void *)(ip + 1);
    if ((void *)(icmp + 1) > end || icmp->type != 8 || icmp->code != 0)
        return XDP_PASS;
    __u32 length = bpf_ntohs(ip->tot_len);
    if (length < 28 || length > 20 + 256 || (void *)ip + length > end)
        return XDP_DROP;
    length -= 20;
    __u8 mac[6];
    __builtin_memcpy(mac, eth->h_dest, 6);
    __builtin_memcpy(eth->h_dest, eth->h_source, 6);
    __builtin_memcpy(eth->h_source, mac, 6);
    __be32 addr = ip->saddr;
    ip->saddr = ip->daddr;
    ip->daddr = addr;
    icmp->type = 0;
    icmp->checksum = 0;
    __u32 sum = 0;
    __u8 *p = (__u8 *)icmp;
    for (__u32 i = 0; i + 1 < length && i < 256; i += 2) {
        if ((void *)(p + i + 2) > end)
            return XDP_DROP;
        sum += (__u32)p[i] << 8 | p[i + 1];
    }
    if (length & 1) {
        if ((void *)(p + length) > end)
            return XDP_DROP;
        sum += (__u32)p[length - 1] << 8;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    icmp->checksum = bpf_htons((__u16)~sum);
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&replies, &zero);
    if (n)
        *n += 1;
    return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
