/* Fixed-count loops over packet headers with an `int` counter, built as clang builds
 * them with its default CPU (-mcpu=v1, `make elf-fixtures` does so for *_v1.c): the
 * counter is a byte offset that steps by the element's size, and the exit test
 * compares a zero-extended copy of it (`mov r3, r2; lsh r3, 32; rsh r3, 32; jeq r3,
 * 20`) with 64 bits, where -mcpu=v3 code compares the counter itself (`jeq32 r2, 20`).
 * Each program stores what it computed in slot 0 of `sums` and returns XDP_PASS.
 *   header_checksum: the ones' complement sum of the IPv4 header's ten 16-bit words
 *                    (little-endian loads), folded to 16 bits and inverted
 *   mac_mix:         the sum over the six MAC address bytes of dest[i] * 3 ^ source[i]
 *   address_words:   the sum of the IPv4 header's five 32-bit words, each byte-swapped */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} sums SEC(".maps");

static void record(u64 value)
{
    u32 zero = 0;
    u64 *slot = bpf_map_lookup_elem(&sums, &zero);
    if (slot)
        *slot = value;
}

SEC("xdp")
int header_checksum(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct iphdr *ip = data + sizeof(struct ethhdr);
    if ((void *)(ip + 1) > end)
        return XDP_DROP;
    u16 *word = (u16 *)ip;
    u32 sum = 0;
#pragma clang loop unroll(disable)
    for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
        sum += *word++;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    record(~sum & 0xffff);
    return XDP_PASS;
}

SEC("xdp")
int mac_mix(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return XDP_DROP;
    u64 mix = 0;
#pragma clang loop unroll(disable)
    for (int i = 0; i < 6; i++)
        mix += eth->h_dest[i] * 3 ^ eth->h_source[i];
    record(mix);
    return XDP_PASS;
}

SEC("xdp")
int address_words(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    u32 *word = data + sizeof(struct ethhdr);
    if ((void *)(word + 5) > end)
        return XDP_DROP;
    u64 total = 0;
#pragma clang loop unroll(disable)
    for (int i = 0; i < 5; i++) {
        u32 w = *word++;
        total += (w >> 24) | (w >> 8 & 0xff00) | (w << 8 & 0xff0000) | (w << 24);
    }
    record(total);
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
