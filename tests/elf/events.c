/* Events to user space: for each IPv4 packet a fixed record through a ring buffer
 * (reserve, fill, submit), its 4-byte length through bpf_ringbuf_output, and a perf
 * event with the addresses followed by the first 14 packet bytes. */
#include "bpf_defs.h"

struct record {
    u32 saddr;
    u32 daddr;
    u16 length;
    u8 protocol;
    u8 ttl;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} records SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(u32));
    __uint(value_size, sizeof(u32));
} samples SEC(".maps");

SEC("xdp")
int report(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = data + sizeof(*eth);
    if ((void *)(ip + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;
    struct record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
    if (!r)
        return XDP_DROP;
    r->saddr = ip->saddr;
    r->daddr = ip->daddr;
    r->length = ntohs(ip->tot_len);
    r->protocol = ip->protocol;
    r->ttl = ip->ttl;
    bpf_ringbuf_submit(r, 0);
    u32 length = data_end - data;
    bpf_ringbuf_output(&records, &length, sizeof(length), 0);
    u32 addresses[2] = {ip->saddr, ip->daddr};
    bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU | (14ULL << 32), addresses,
                          sizeof(addresses));
    return XDP_PASS;
}
