/* route: a route lookup: the packet's first four bytes are an IPv4 address, looked up
 * with all 32 bits in an LPM trie of routes; returns the route's value, or 99 when no
 * route matches.  Routes are added from outside (Python, or bpftool for the kernel).
 *
 * learn: the program changes a small trie itself, one operation per packet: an update,
 * a delete or a lookup, as the packet's first byte says; returns the helper's result
 * (0 or a negative errno) or the value found (99 when none). */
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

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 8);
    __uint(map_flags, 1);
    __type(key, struct route_key);
    __type(value, u32);
} learned SEC(".maps");

struct command {
    u8 op;                                  /* 1 update, 2 delete, anything else lookup */
    u8 flags;                               /* an update's BPF_ANY/NOEXIST/EXIST */
    u8 prefixlen;
    u8 pad;
    u8 address[4];
    u32 value;
};

SEC("xdp")
int learn(struct xdp_md *ctx)
{
    struct command *command = (void *)(long)ctx->data;
    if ((void *)(command + 1) > (void *)(long)ctx->data_end)
        return 98;
    struct route_key key = {.prefixlen = command->prefixlen};
    __builtin_memcpy(key.address, command->address, 4);
    u32 value = command->value;
    if (command->op == 1)
        return bpf_map_update_elem(&learned, &key, &value, command->flags);
    if (command->op == 2)
        return bpf_map_delete_elem(&learned, &key);
    key.prefixlen = 32;
    u32 *found = bpf_map_lookup_elem(&learned, &key);
    return found ? *found : 99;
}

char LICENSE[] SEC("license") = "GPL";
