/* A cgroup device allow-list, as container runtimes build one: rules in a hash map
 * keyed by (type, major, minor), a minor of ANY_MINOR matching every minor of its
 * major; the value is the access mask a rule allows (1 mknod, 2 read, 4 write).  An
 * access is allowed when a rule allows all of it (the exact rule first, then the
 * major's wildcard); each refusal is counted in `refused` (key 0).
 * Returns 1 (allow) or 0 (EPERM). */
#include "bpf_defs.h"

#define ANY_MINOR 0xffffffff

struct bpf_cgroup_dev_ctx {
    u32 access_type;            /* access << 16 | type */
    u32 major;
    u32 minor;
};

struct rule_key {
    u32 type, major, minor;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct rule_key);
    __type(value, u32);
} rules SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} refused SEC(".maps");

SEC("cgroup/dev")
int allow_list(struct bpf_cgroup_dev_ctx *ctx)
{
    struct rule_key key = { ctx->access_type & 0xffff, ctx->major, ctx->minor };
    u32 access = ctx->access_type >> 16;
    u32 *allowed = bpf_map_lookup_elem(&rules, &key);
    if (!allowed) {
        key.minor = ANY_MINOR;
        allowed = bpf_map_lookup_elem(&rules, &key);
    }
    if (allowed && (access & ~*allowed) == 0)
        return 1;
    u32 zero = 0;
    u64 *count = bpf_map_lookup_elem(&refused, &zero);
    if (count)
        __sync_fetch_and_add(count, 1);
    return 0;
}
