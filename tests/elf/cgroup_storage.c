/* A cgroup_skb program with per-cgroup storage, a map kind bpfjit does not implement
 * (BPF_MAP_TYPE_CGROUP_STORAGE, which declares no max_entries): loading it must say
 * which kind, not ask for the max_entries its loader would never need. */
#include "bpf_defs.h"

#define BPF_MAP_TYPE_CGROUP_STORAGE 19

struct bpf_cgroup_storage_key {
    u64 cgroup_inode_id;
    u32 attach_type;
};

struct {
    __uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
    __type(key, struct bpf_cgroup_storage_key);
    __type(value, u64);
} packets SEC(".maps");

static void *(*bpf_get_local_storage)(void *map, u64 flags) = (void *)81;

SEC("cgroup_skb/ingress")
int count(struct __sk_buff *skb)
{
    u64 *n = bpf_get_local_storage(&packets, 0);
    __sync_fetch_and_add(n, 1);
    return 1;
}

char _license[] SEC("license") = "GPL";
