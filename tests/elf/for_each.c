/* bpf_for_each_map_elem: programs that walk a map with a callback.  Each takes its
 * inputs from the packet and writes what it saw into `out` (u64 slots), so that a
 * test can compare every engine, and the kernel, slot by slot.
 *
 *   walk_array    sums an array's values and keys; stops at a value >= the limit in
 *                 the packet's first 8 bytes (0: no limit)
 *   walk_flags    the same walk with the flags the packet gives (not 0: -EINVAL)
 *   expire_flows  deletes the flows of a hash map last seen before the packet's time,
 *                 from inside the callback, and counts what it kept
 *   sum_ports     reads the fields of an LRU map's struct keys
 *   sum_per_cpu   sums a per-CPU array's values (this CPU's)
 *   checksum_keys hands each key of a hash map to a helper that reads memory
 *                 (csum_diff)
 *   copy_to_hash  copies an array into a hash map, key by key
 */
#include "bpf_defs.h"

#define SLOTS 8

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, SLOTS);
    __type(key, u32);
    __type(value, u64);
} out SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 6);
    __type(key, u32);
    __type(value, u64);
} counts SEC(".maps");

struct flow {
    u64 packets;
    u64 last_seen;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, u32);
    __type(value, struct flow);
} flows SEC(".maps");

struct endpoint {
    u32 addr;
    u16 port;
    u16 proto;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8);
    __type(key, struct endpoint);
    __type(value, u64);
} recent SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8);
    __type(key, struct endpoint);
    __type(value, u64);
} endpoints SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, u64);
} per_cpu SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8);
    __type(key, u32);
    __type(value, u64);
} mirror SEC(".maps");

static void put(u32 slot, u64 value)
{
    u64 *at = bpf_map_lookup_elem(&out, &slot);

    if (at)
        *at = value;
}

static int first_u64(struct xdp_md *ctx, u64 *value)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;

    if (data + 8 > end)
        return -1;
    *value = *(u64 *)data;
    return 0;
}

struct walk {
    u64 sum;
    u64 keys;
    u64 limit;
};

static long add_element(void *map, u32 *key, u64 *value, struct walk *w)
{
    w->sum += *value;
    w->keys += 1ULL << (*key * 4);          /* which keys, and how often */
    return w->limit && *value >= w->limit;
}

SEC("xdp")
int walk_array(struct xdp_md *ctx)
{
    struct walk w = {};
    long visited;

    if (first_u64(ctx, &w.limit))
        return XDP_ABORTED;
    visited = bpf_for_each_map_elem(&counts, add_element, &w, 0);
    put(0, visited);
    put(1, w.sum);
    put(2, w.keys);
    return XDP_PASS;
}

SEC("xdp")
int walk_flags(struct xdp_md *ctx)
{
    struct walk w = {};
    u64 flags;
    long visited;

    if (first_u64(ctx, &flags))
        return XDP_ABORTED;
    visited = bpf_for_each_map_elem(&counts, add_element, &w, flags);
    put(0, visited);
    put(1, w.sum);
    return XDP_PASS;
}

struct sweep {
    u64 now;
    u64 expired;
    u64 kept;
};

static long expire_flow(void *map, u32 *key, struct flow *flow, struct sweep *s)
{
    if (flow->last_seen + 100 < s->now) {
        if (bpf_map_delete_elem(map, key) == 0)
            s->expired++;
    } else {
        s->kept += flow->packets;
    }
    return 0;
}

SEC("xdp")
int expire_flows(struct xdp_md *ctx)
{
    struct sweep s = {};
    long visited;

    if (first_u64(ctx, &s.now))
        return XDP_ABORTED;
    visited = bpf_for_each_map_elem(&flows, expire_flow, &s, 0);
    put(0, visited);
    put(1, s.expired);
    put(2, s.kept);
    return XDP_PASS;
}

static long add_port(void *map, struct endpoint *key, u64 *value, u64 *sum)
{
    *sum += key->port * *value + key->proto;
    return 0;
}

SEC("xdp")
int sum_ports(struct xdp_md *ctx)
{
    u64 sum = 0;

    put(0, bpf_for_each_map_elem(&recent, add_port, &sum, 0));
    put(1, sum);
    return XDP_PASS;
}

static long add_value(void *map, u32 *key, u64 *value, u64 *sum)
{
    *sum += *value;
    *value += 1;                            /* values may be written */
    return 0;
}

SEC("xdp")
int sum_per_cpu(struct xdp_md *ctx)
{
    u64 sum = 0;

    put(0, bpf_for_each_map_elem(&per_cpu, add_value, &sum, 0));
    put(1, sum);
    return XDP_PASS;
}

static long checksum_key(void *map, struct endpoint *key, u64 *value, u64 *sum)
{
    *sum += (u32)bpf_csum_diff(0, 0, (u32 *)key, sizeof(*key), 0);
    return 0;
}

SEC("xdp")
int checksum_keys(struct xdp_md *ctx)
{
    u64 sum = 0;

    put(0, bpf_for_each_map_elem(&endpoints, checksum_key, &sum, 0));
    put(1, sum);
    return XDP_PASS;
}

static long copy_element(void *map, u32 *key, u64 *value, void *unused)
{
    if (*value)
        bpf_map_update_elem(&mirror, key, value, BPF_ANY);
    return 0;
}

SEC("xdp")
int copy_to_hash(struct xdp_md *ctx)
{
    put(0, bpf_for_each_map_elem(&counts, copy_element, 0, 0));
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
