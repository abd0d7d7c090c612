/* A packet sampler: every `rate`-th packet (a .rodata setting, 4 as built) goes to a
 * ring buffer as a record of a small header (the packet's length, its sequence number)
 * and its first bytes, at most 64 -- a record whose size the packet decides, through
 * bpf_ringbuf_output from a buffer on the stack; then packets longer than `snap`
 * (.rodata, 96) are cut to it with bpf_xdp_adjust_tail.  Totals live in .bss:
 * packets seen, sampled, bytes cut, and records the ring refused. */
#include "xdp.h"

static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size,
                                  __u64 flags) = (void *)130;
static long (*bpf_xdp_adjust_tail)(struct xdp_md *xdp, int delta) = (void *)65;

enum { BPF_MAP_TYPE_RINGBUF = 27 };
#define SAMPLE_BYTES 64

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} samples SEC(".maps");

const volatile __u32 rate = 4;
const volatile __u32 snap = 96;

__u64 seen, sampled, cut_bytes, refused;

struct record {
    __u32 length;
    __u32 sequence;
    __u8 bytes[SAMPLE_BYTES];
};

SEC("xdp")
int sampler(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    __u32 length = data_end - data;
    __u64 n = seen++;
    if (rate && n % rate == 0) {
        struct record r;
        r.length = length;
        r.sequence = n;
        __u32 take = length < SAMPLE_BYTES ? length : SAMPLE_BYTES;
        __u8 *p = data;
        for (__u32 i = 0; i < SAMPLE_BYTES; i++) {
            if (i >= take || p + i + 1 > (__u8 *)data_end)
                break;
            r.bytes[i] = p[i];
        }
        if (bpf_ringbuf_output(&samples, &r, 8 + take, 0) == 0)
            sampled++;
        else
            refused++;
    }
    if (length > snap) {
        if (bpf_xdp_adjust_tail(ctx, (int)snap - (int)length) == 0)
            cut_bytes += length - snap;
    }
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
