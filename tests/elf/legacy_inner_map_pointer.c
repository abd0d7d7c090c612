/* Maps defined as Go loaders of the goebpf kind read them: 40-byte records in section
 * maps whose sixth member points at the inner map's own record (a relocation names it)
 * and whose seventh may name a pin path.  Sizes a loader fills in are left 0: the
 * outer map's value (a map's fd, 4 bytes), both sizes of the perf event array (an int
 * per CPU) and of the program array (an index, a program's fd).  The program is
 * legacy_inner.h's; it uses neither of those two. */
#include "bpf_defs.h"

struct pointer_map_def {
    u32 type;
    u32 key_size;
    u32 value_size;
    u32 max_entries;
    u32 map_flags;
    void *inner_map_def;
    const char *persistent_path;
};

struct pointer_map_def SEC("maps") events = {
    .type = BPF_MAP_TYPE_PERF_EVENT_ARRAY, .max_entries = 8,
};

struct pointer_map_def SEC("maps") jumps = {
    .type = BPF_MAP_TYPE_PROG_ARRAY, .max_entries = 2,
};

struct pointer_map_def SEC("maps") backends = {
    .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 4,
};

struct pointer_map_def SEC("maps") by_service = {
    .type = BPF_MAP_TYPE_ARRAY_OF_MAPS, .key_size = 4, .max_entries = 8,
    .inner_map_def = &backends, .persistent_path = "/sys/fs/bpf/by_service",
};

#include "legacy_inner.h"
