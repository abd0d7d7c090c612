/* Per-flow statistics kept under a spin lock: a hash map keyed by the packet's first
 * byte and a one-element array of totals, each value holding a struct bpf_spin_lock
 * between its counters.  A new flow is inserted with a zeroed value first (so the
 * lock it takes exists).  Returns XDP_PASS after an odd number of packets in all,
 * XDP_DROP after an even one, the count read while holding the totals' lock. */
#include "bpf_defs.h"

struct stats {
    u64 packets;                  /* bytes 0-7 */
    struct bpf_spin_lock lock;    /* bytes 8-11 */
    u32 bytes;                    /* bytes 12-15 */
    u64 last_len;                 /* bytes 16-23 */
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, u32);
    __type(value, struct stats);
} flows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct stats);
} totals SEC(".maps");

SEC("xdp")
int count_flows(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u8 *first = data;
    if ((void *)(first + 1) > data_end)
        return XDP_ABORTED;
    u32 key = *first, zero = 0;
    u32 len = data_end - data;

    struct stats *flow = bpf_map_lookup_elem(&flows, &key);
    if (!flow) {
        struct stats fresh = {};
        bpf_map_update_elem(&flows, &key, &fresh, BPF_NOEXIST);
        flow = bpf_map_lookup_elem(&flows, &key);
        if (!flow)
            return XDP_ABORTED;
    }
    bpf_spin_lock(&flow->lock);
    flow->packets++;
    flow->bytes += len;
    flow->last_len = len;
    bpf_spin_unlock(&flow->lock);

    struct stats *all = bpf_map_lookup_elem(&totals, &zero);
    if (!all)
        return XDP_ABORTED;
    bpf_spin_lock(&all->lock);
    u64 seen = ++all->packets;
    all->bytes += len;
    bpf_spin_unlock(&all->lock);
    return seen % 2 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
