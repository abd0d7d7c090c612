/* A route lookup: the packet's first four bytes are an IPv4 address, looked up with all
 * 32 bits in an LPM trie of routes; returns the route's value, or 99 when no route
 * matches.  Routes are added from outside (Python, or bpftool for the kernel). */
#include "bpf_defs.h"

struct route_key {
    u32 prefixlen;
    u8 address[4];
};

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 256);
    __uint(map_flags, 1);                   /* BPF_F_NO_PREALLOC, as the kernel requires */
    __type(key, struct route_key);
    __type(value, u32);
} routes SEC(".maps");

SEC("xdp")
int route(struct xdp_md *ctx)
{
    u8 *data = (void *)(long)ctx->data;
    u8 *data_end = (void *)(long)ctx->data_end;
    struct route_key key = {.prefixlen = 32};
    if (data + 4 > data_end)
        return 98;
    __builtin_memcpy(key.address, data, 4);
    u32 *value = bpf_map_lookup_elem(&routes, &key);
    return value ? *value : 99;
}

char LICENSE[] SEC("license") = "GPL";
