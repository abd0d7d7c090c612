/* A program that counts packets in maps another object owns (shared_owner.c): it
 * declares `per_source` itself, with the owner's definition, as objects sharing a
 * pinned map do; `total` it only names, as an uninitialised variable, for a loader that
 * resolves maps by name (aws-network-policy-agent's tc programs name their connection
 * table so).  Without the owner's maps `total` is a variable, not a map. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, u32);
    __type(value, u64);
} per_source SEC(".maps");

struct map_by_name {
    u32 fields[7];
} total;

SEC("xdp")
int count(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u32 source, zero = 0;
    u64 one = 1, *seen, *sum;

    if (data + 4 > data_end)
        return XDP_ABORTED;
    source = *(u32 *)data;
    seen = bpf_map_lookup_elem(&per_source, &source);
    if (seen)
        __sync_fetch_and_add(seen, 1);
    else
        bpf_map_update_elem(&per_source, &source, &one, BPF_NOEXIST);
    sum = bpf_map_lookup_elem(&total, &zero);
    if (sum)
        __sync_fetch_and_add(sum, 1);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
