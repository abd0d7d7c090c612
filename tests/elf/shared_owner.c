/* The object that owns two maps other objects use: a per-source packet count (a hash
 * map) and a grand total (an array).  Its program reports the count of one source.
 * tests/test_shared_maps.py gives these maps to shared_user.o, as a loader that pins
 * maps (or resolves them by name) would. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, u32);
    __type(value, u64);
} per_source SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} total SEC(".maps");

/* the count of the source address in the packet's first four bytes */
SEC("xdp")
int report(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u32 source;
    u64 *count;

    if (data + 4 > data_end)
        return XDP_ABORTED;
    source = *(u32 *)data;
    count = bpf_map_lookup_elem(&per_source, &source);
    return count ? (int)*count : 0;
}

char LICENSE[] SEC("license") = "GPL";
