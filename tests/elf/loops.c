/* bpf_loop: a callback called once per trip with the trip's index and a pointer to the
 * caller's state on its stack.  count_byte counts, among the packet's first 64 bytes,
 * those equal to the first one, reading the packet from the callback (which checks
 * each read against the end); the result goes to slot 0 of `found`, and the number of
 * trips bpf_loop reports to slot 1.  first_space stops the loop early: the callback
 * returns 1 at the first space (0x20), and the trips made then give its position. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, u32);
    __type(value, u64);
} found SEC(".maps");

struct scan {
    u8 *data;
    u8 *end;
    u32 count;
    u8 needle;
};

static long count_one(u64 index, void *arg)
{
    struct scan *s = arg;
    if (index >= 64)                    /* (the kernel does not bound the index) */
        return 1;
    u8 *p = s->data + index;
    if (p + 1 > s->end)
        return 1;                       /* past the packet: stop */
    if (*p == s->needle)
        s->count++;
    return 0;
}

static void store(u32 slot, u64 value)
{
    u64 *v = bpf_map_lookup_elem(&found, &slot);
    if (v)
        *v = value;
}

SEC("xdp")
int count_byte(struct xdp_md *ctx)
{
    struct scan s = {
        .data = (void *)(long)ctx->data,
        .end = (void *)(long)ctx->data_end,
        .count = 0,
    };
    if (s.data + 1 > s.end)
        return XDP_PASS;
    s.needle = s.data[0];
    long trips = bpf_loop(64, count_one, &s, 0);
    store(0, s.count);
    store(1, trips);
    return s.count > 3 ? XDP_DROP : XDP_PASS;
}

struct search {
    u8 *data;
    u8 *end;
};

static long is_space(u64 index, void *arg)
{
    struct search *s = arg;
    if (index >= 1000)
        return 1;
    u8 *p = s->data + index;
    if (p + 1 > s->end)
        return 1;
    return *p == ' ';
}

SEC("xdp")
int first_space(struct xdp_md *ctx)
{
    struct search s = {(void *)(long)ctx->data, (void *)(long)ctx->data_end};
    long trips = bpf_loop(1000, is_space, &s, 0);
    store(1, trips);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
