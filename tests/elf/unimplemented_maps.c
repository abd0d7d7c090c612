/* An object that declares maps of types bpfjit does not implement beside one it does,
 * as aquasecurity/tracee declares an arena map (to learn whether the kernel has them)
 * next to the maps its cgroup_skb programs use.  The kernel wants an arena's key and
 * value sizes 0 and a bloom filter's key size 0, so neither declares them.
 *
 * count_packets counts each packet in `counts` (key 0) and returns XDP_PASS (2);
 * probe_arena only takes the arena map's address (kept in a volatile slot) and returns
 * XDP_PASS. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARENA);
    __uint(max_entries, 1);
    __uint(map_flags, BPF_F_MMAPABLE);
} pages SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
    __uint(max_entries, 64);
    __uint(value_size, 4);
} seen SEC(".maps");

SEC("xdp")
int count_packets(void *ctx)
{
    u32 key = 0;
    u64 *n = bpf_map_lookup_elem(&counts, &key);
    if (n)
        *n += 1;
    return 2;
}

SEC("xdp")
int probe_arena(void *ctx)
{
    void *volatile arena = &pages;
    return arena ? 2 : 1;
}
