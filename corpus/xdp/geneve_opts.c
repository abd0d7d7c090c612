/* Geneve (UDP port 6081) over IPv4: the header's option length (6 bits, in 4-byte
 * words) bounds a region of TLV options after it, which is walked option by option --
 * class (2 bytes), type, then 5 bits of length in words -- until the region ends or the
 * packet does.  An option of class 0x0102, type 0x80 and at least one word carries a
 * tenant tag: the tag of the last one seen is recorded per VNI in a hash map, and a
 * packet whose VNI the `denied` hash map holds is dropped.  Everything else passes. */
#include "xdp.h"

#define GENEVE_PORT 6081
#define MAX_OPTS 16

struct geneve_hdr {
    __u8 opt_len_ver;           /* version (2 bits, high), option length (6 bits) */
    __u8 flags;
    __be16 proto;
    __u8 vni[3];
    __u8 reserved;
};

struct geneve_opt {
    __be16 opt_class;
    __u8 type;
    __u8 len_flags;             /* flags (3 bits, high), length in words (5 bits) */
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u32);
} tags SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, __u8);
} denied SEC(".maps");

SEC("xdp")
int geneve_opts(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
        return XDP_PASS;
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(GENEVE_PORT))
        return XDP_PASS;
    struct geneve_hdr *gh = (void *)(udp + 1);
    if ((void *)(gh + 1) > data_end)
        return XDP_PASS;
    __u32 vni = gh->vni[0] << 16 | gh->vni[1] << 8 | gh->vni[2];
    if (bpf_map_lookup_elem(&denied, &vni))
        return XDP_DROP;
    __u8 *opt = (__u8 *)(gh + 1);
    __u8 *opts_end = opt + (gh->opt_len_ver & 0x3f) * 4;
    for (int i = 0; i < MAX_OPTS; i++) {
        struct geneve_opt *o = (void *)opt;
        if ((void *)(o + 1) > (void *)opts_end || (void *)(o + 1) > data_end)
            break;
        __u32 words = o->len_flags & 0x1f;
        if (o->opt_class == bpf_htons(0x0102) && o->type == 0x80 && words >= 1) {
            __u8 *tag = (__u8 *)(o + 1);
            if ((void *)(tag + 4) > data_end)
                break;
            __u32 value = tag[0] << 24 | tag[1] << 16 | tag[2] << 8 | tag[3];
            bpf_map_update_elem(&tags, &vni, &value, BPF_ANY);
        }
        opt += sizeof(*o) + words * 4;
    }
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
