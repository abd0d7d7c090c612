/* A perf event array that declares max_entries 0, as programs written for libbpf do:
 * libbpf then makes it one slot per possible CPU.  Each packet's first byte goes to
 * the current CPU's slot. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(u32));
    __uint(value_size, sizeof(u32));
    __uint(max_entries, 0);
} per_cpu_events SEC(".maps");

SEC("xdp")
int first_byte(struct xdp_md *ctx)
{
    u8 *data = (void *)(long)ctx->data;
    u8 *data_end = (void *)(long)ctx->data_end;
    if (data + 1 > data_end)
        return XDP_PASS;
    u32 first = data[0];
    bpf_perf_event_output(ctx, &per_cpu_events, BPF_F_CURRENT_CPU, &first, sizeof(first));
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
