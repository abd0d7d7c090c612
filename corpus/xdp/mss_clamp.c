/* Clamps the MSS option of TCP SYNs over IPv4 to 1200: a loop over the options keeps
 * a pointer to the MSS option, or NULL while none was seen, and the code after the
 * loop tests it.  Counts SYNs seen, options walked and clamps made in `clamps`. */
#include "xdp.h"

#define MSS_LIMIT 1200
#define MAX_OPTIONS 8

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, __u32);
    __type(value, __u64);
} clamps SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
    __u64 *slot = bpf_map_lookup_elem(&clamps, &which);
    if (slot)
        *slot += n;
}

SEC("xdp")
int mss_clamp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP || ip->ihl < 5)
        return XDP_PASS;
    struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
    if ((void *)(tcp + 1) > end)
        return XDP_PASS;
    __u16 flags = bpf_ntohs(tcp->flags);
    if (!(flags & 0x0002))                          /* not a SYN */
        return XDP_PASS;
    count(0, 1);
    __u8 *opt = (__u8 *)(tcp + 1);
    __u8 *opts_end = (__u8 *)tcp + (flags >> 12) * 4;
    __u8 *mss = NULL;
    int walked = 0;
    for (int i = 0; i < MAX_OPTIONS; i++) {
        if ((void *)(opt + 1) > end || opt >= opts_end)
            break;
        __u8 kind = opt[0];
        if (kind == 0)                              /* end of options */
            break;
        walked++;
        if (kind == 1) {                            /* no-op: one byte */
            opt++;
            continue;
        }
        if ((void *)(opt + 2) > end || opt[1] < 2)
            break;
        if (kind == 2 && opt[1] == 4)
            mss = opt;
        opt += opt[1];
    }
    count(1, walked);
    if (mss) {
        if ((void *)(mss + 4) > end)
            return XDP_PASS;
        __u16 value = (__u16)(mss[2] << 8 | mss[3]);
        if (value > MSS_LIMIT) {
            mss[2] = MSS_LIMIT >> 8;
            mss[3] = MSS_LIMIT & 0xff;
            count(2, 1);
        }
    }
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
