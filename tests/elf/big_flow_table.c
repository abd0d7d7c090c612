/* A flow table declared as production XDP programs declare theirs: ten million
 * entries of 64 bytes in a hash map whose memory the kernel allocates per element
 * (BPF_F_NO_PREALLOC).  Each packet counts itself and its bytes under its first
 * byte; returns XDP_PASS. */
#include "bpf_defs.h"

struct flow {
    u64 packets;
    u64 bytes;
    u8 note[48];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10000000);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, u32);
    __type(value, struct flow);
} flows SEC(".maps");

SEC("xdp")
int count_flows(struct xdp_md *ctx)
{
    unsigned char *data = (void *)(long)ctx->data;
    unsigned char *data_end = (void *)(long)ctx->data_end;
    if (data + 1 > data_end)
        return XDP_PASS;
    u32 key = data[0];
    u64 len = data_end - data;
    struct flow *f = bpf_map_lookup_elem(&flows, &key);

    if (!f) {
        struct flow fresh = {.packets = 1, .bytes = len};
        bpf_map_update_elem(&flows, &key, &fresh, BPF_NOEXIST);
        return XDP_PASS;
    }
    f->packets += 1;
    f->bytes += len;
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
