/* Global variables: .data (initialised), .rodata (constant) and .bss (zeroed), reached
 * through lddw's map-value form; trace_printk reports each run. */
#include "bpf_defs.h"

u64 runs = 100;                 /* .data */
const u32 step = 7;             /* .rodata */
u64 last_length;                /* .bss */
u32 history[4];                 /* .bss */

SEC("xdp")
int use_globals(struct xdp_md *ctx)
{
    u64 length = ctx->data_end - ctx->data;
    runs += step;
    last_length = length;
    history[runs & 3] = (u32)length;
    bpf_trace_printk("run %llu length %llu\n", sizeof("run %llu length %llu\n"), runs, length);
    return runs > 120 ? XDP_DROP : XDP_PASS;
}
