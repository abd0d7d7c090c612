/* TCP flags counted by one non-inlined function into structs on the caller's stack,
 * called from several places, each passing a different struct (so a stack pointer at a
 * different offset): the shape of microsoft/retina's packetparser, whose counting
 * function the kernel verifies once per call site.  bpfjit analyses the function once,
 * for the join of its callers' states; its stack pointer argument then lies in a
 * range of offsets, every one of them a struct the function may use whole.
 *
 * For an IPv4 TCP packet: the flags byte is counted into `in` (destination port 80),
 * `out` (source port 80) or `other`, and always into `all`; the four structs are then
 * stored in `report` (key 0: all, 1: in, 2: out, 3: other), each as eight u32 counts
 * (SYN, ACK, FIN, RST, PSH, URG, ECE, CWR) that start from the map's values.
 * Returns XDP_PASS (2), or XDP_DROP (1) for a packet too short for its headers. */
#include "bpf_defs.h"

struct flag_counts {
    u32 syn, ack, fin, rst, psh, urg, ece, cwr;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, struct flag_counts);
} report SEC(".maps");

static NOINLINE void count_flags(u32 flags, struct flag_counts *c)
{
    if (!c)
        return;
    if (flags & 0x02) c->syn++;
    if (flags & 0x10) c->ack++;
    if (flags & 0x01) c->fin++;
    if (flags & 0x04) c->rst++;
    if (flags & 0x08) c->psh++;
    if (flags & 0x20) c->urg++;
    if (flags & 0x40) c->ece++;
    if (flags & 0x80) c->cwr++;
}

static NOINLINE void load_counts(u32 key, struct flag_counts *c)
{
    struct flag_counts *stored = bpf_map_lookup_elem(&report, &key);
    if (stored)
        __builtin_memcpy(c, stored, sizeof(*c));
}

SEC("xdp")
int flag_counts(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = data + sizeof(*eth);
    struct flag_counts all = {}, in = {}, out = {}, other = {};
    u32 key;

    if ((void *)(ip + 1) > data_end)
        return 1;
    if (eth->h_proto != htons(ETH_P_IP) || ip->protocol != IPPROTO_TCP)
        return 2;
    u8 *tcp = (u8 *)ip + (ip->ihl_version & 0xf) * 4;
    if (tcp + 20 > (u8 *)data_end)
        return 1;
    u16 sport = tcp[0] << 8 | tcp[1], dport = tcp[2] << 8 | tcp[3];
    u32 flags = tcp[13];

    load_counts(0, &all);
    load_counts(1, &in);
    load_counts(2, &out);
    load_counts(3, &other);
    if (dport == 80)
        count_flags(flags, &in);
    else if (sport == 80)
        count_flags(flags, &out);
    else
        count_flags(flags, &other);
    count_flags(flags, &all);
    key = 0;
    bpf_map_update_elem(&report, &key, &all, BPF_ANY);
    key = 1;
    bpf_map_update_elem(&report, &key, &in, BPF_ANY);
    key = 2;
    bpf_map_update_elem(&report, &key, &out, BPF_ANY);
    key = 3;
    bpf_map_update_elem(&report, &key, &other, BPF_ANY);
    return 2;
}

char LICENSE[] SEC("license") = "GPL";
