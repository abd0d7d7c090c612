/* A cgroup sysctl guard: reads are let through and counted (`reads`, key 0); writes to
 * kernel/hostname are refused; a write to net/core/somaxconn above 4096 is rewritten
 * to "4096\n" (and counted in `clamped`, key 0), and one that is no number is refused;
 * a sysctl whose name does not fit 32 bytes is refused.  Returns 1 (go on) or 0. */
#include "bpf_defs.h"

struct bpf_sysctl {
    u32 write;
    u32 file_pos;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} reads SEC(".maps"), clamped SEC(".maps");

static const char hostname[] = "kernel/hostname";
static const char somaxconn[] = "net/core/somaxconn";
static const char limit[] = "4096\n";

static __attribute__((always_inline)) int same(const char *a, const char *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static __attribute__((always_inline)) void count(void *map)
{
    u32 key = 0;
    u64 *n = bpf_map_lookup_elem(map, &key);
    if (n)
        *n += 1;
}

SEC("cgroup/sysctl")
int guard(struct bpf_sysctl *ctx)
{
    char name[32];
    if (bpf_sysctl_get_name(ctx, name, sizeof(name), 0) < 0)
        return 0;
    if (!ctx->write) {
        count(&reads);
        return 1;
    }
    if (same(name, hostname, sizeof(hostname)))
        return 0;
    if (same(name, somaxconn, sizeof(somaxconn))) {
        char value[16] = {};
        u64 n;
        if (bpf_sysctl_get_new_value(ctx, value, sizeof(value)) < 0 ||
            bpf_strtoul(value, sizeof(value), 10, &n) < 0)
            return 0;
        if (n > 4096) {
            bpf_sysctl_set_new_value(ctx, limit, sizeof(limit) - 1);
            ctx->file_pos = 0;
            count(&clamped);
        }
    }
    return 1;
}
