/* Drops IPv4 packets whose header checksum is wrong; passes the rest.  The sum
 * is in a header (ip_checksum.h): line information in two files. */
#include "bpf_defs.h"
#include "ip_checksum.h"

SEC("xdp")
int check_ip_header(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return XDP_PASS;
    if (eth->h_proto != __builtin_bswap16(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
        return XDP_PASS;
    if (fold_sum((const u16 *)ip, sizeof(*ip) / 2) != 0)
        return XDP_DROP;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
