/* Counting lines in a UDP payload the modern way: bpf_loop calls a callback once per
 * payload byte (up to 1,500), which copies the byte out with bpf_xdp_load_bytes through
 * the context pointer kept in a struct on the caller's stack, and counts newlines and
 * bytes of the longest line so far.  The counts go into an array map; packets whose
 * longest line passes 80 bytes are dropped. */
#include "xdp.h"

static long (*bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx,
                        __u64 flags) = (void *)181;
static long (*bpf_xdp_load_bytes)(struct xdp_md *xdp_md, __u32 offset, void *buf,
                                  __u32 len) = (void *)189;

#define MAX_PAYLOAD 1500
#define MAX_LINE 80

struct scan {
    struct xdp_md *xdp;
    __u32 start;
    __u32 lines;
    __u32 line_len;
    __u32 longest;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

static long scan_byte(__u32 i, void *arg)
{
    struct scan *s = arg;
    __u8 byte;
    if (bpf_xdp_load_bytes(s->xdp, s->start + i, &byte, 1) < 0)
        return 1;                                 /* stop: past the packet */
    if (byte == '\n') {
        s->lines++;
        s->line_len = 0;
        return 0;
    }
    s->line_len++;
    if (s->line_len > s->longest)
        s->longest = s->line_len;
    return 0;
}

static __always_inline void add(__u32 key, __u64 n)
{
    __u64 *slot = bpf_map_lookup_elem(&counts, &key);
    if (slot)
        *slot += n;
}

SEC("xdp")
int loop_scan(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
        return XDP_PASS;
    __u32 ihl = ip->ihl * 4;
    if (ihl < sizeof(*ip))
        return XDP_PASS;
    struct scan s = { .xdp = ctx, .start = sizeof(*eth) + ihl + sizeof(struct udphdr) };
    __u32 size = data_end - data;
    if (size <= s.start)
        return XDP_PASS;
    __u32 payload = size - s.start;
    if (payload > MAX_PAYLOAD)
        payload = MAX_PAYLOAD;
    bpf_loop(payload, scan_byte, &s, 0);
    add(0, s.lines);
    add(1, s.longest);
    return s.longest > MAX_LINE ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
