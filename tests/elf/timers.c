/* Idle flows expire by timer.  `track` counts packets per flow (the packet's first four
 * bytes) in a hash map whose values hold a struct bpf_timer; a new flow's timer is
 * initialised and given the callback `expire`, and every packet of the flow arms it
 * again for IDLE_NS from now.  When it fires, `expire` adds the flow's packets to
 * expired[0] and deletes the flow.  `tick` runs a periodic timer in an array: each
 * firing counts in ticks[0].fired and arms it again for PERIOD_NS later. */
#include "bpf_defs.h"

#define IDLE_NS 1000000000ULL
#define PERIOD_NS 250000000ULL

struct flow {
    u64 packets;                  /* bytes 0-7 */
    struct bpf_timer idle;        /* bytes 8-23 */
    u32 first_len;                /* bytes 24-27 */
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, u32);
    __type(value, struct flow);
} flows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} expired SEC(".maps");

struct ticker {
    struct bpf_timer timer;       /* bytes 0-15 */
    u64 fired;                    /* bytes 16-23 */
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct ticker);
} ticks SEC(".maps");

static int expire(void *map, u32 *key, struct flow *flow)
{
    u32 zero = 0;
    u64 *total = bpf_map_lookup_elem(&expired, &zero);

    if (total)
        *total += flow->packets;
    bpf_map_delete_elem(map, key);
    return 0;
}

SEC("xdp")
int track(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct flow *flow;
    u32 key;

    if (data + 4 > end)
        return XDP_PASS;
    key = *(u32 *)data;
    flow = bpf_map_lookup_elem(&flows, &key);
    if (!flow) {
        struct flow fresh = { .first_len = (u32)(end - data) };

        if (bpf_map_update_elem(&flows, &key, &fresh, BPF_NOEXIST))
            return XDP_ABORTED;
        flow = bpf_map_lookup_elem(&flows, &key);
        if (!flow)
            return XDP_ABORTED;
        if (bpf_timer_init(&flow->idle, &flows, CLOCK_MONOTONIC) ||
            bpf_timer_set_callback(&flow->idle, expire))
            return XDP_ABORTED;
    }
    flow->packets++;
    if (bpf_timer_start(&flow->idle, IDLE_NS, 0))
        return XDP_ABORTED;
    return XDP_PASS;
}

static int again(void *map, u32 *key, struct ticker *ticker)
{
    ticker->fired++;
    bpf_timer_start(&ticker->timer, PERIOD_NS, 0);
    return 0;
}

SEC("xdp")
int tick(struct xdp_md *ctx)
{
    u32 zero = 0;
    struct ticker *ticker = bpf_map_lookup_elem(&ticks, &zero);
    long err;

    if (!ticker)
        return XDP_ABORTED;
    err = bpf_timer_init(&ticker->timer, &ticks, CLOCK_MONOTONIC);
    if (err == 0) {
        bpf_timer_set_callback(&ticker->timer, again);
        bpf_timer_start(&ticker->timer, PERIOD_NS, 0);
    }
    return err == 0 ? XDP_PASS : XDP_DROP;   /* -EBUSY once it runs */
}

char _license[] SEC("license") = "GPL";
