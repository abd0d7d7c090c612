/* A map of maps defined as the kernel's samples/bpf loader reads them: 28-byte
 * `struct bpf_map_def` records in section maps, the outer map giving its inner map's
 * position among the section's maps (`inner_map_idx`); the program is legacy_inner.h's. */
#include "bpf_defs.h"

struct bpf_map_def_inner {
    u32 type;
    u32 key_size;
    u32 value_size;
    u32 max_entries;
    u32 map_flags;
    u32 inner_map_idx;
    u32 numa_node;
};

struct bpf_map_def_inner SEC("maps") unused = {
    .type = 2, .key_size = 4, .value_size = 4, .max_entries = 1,
};

struct bpf_map_def_inner SEC("maps") backends = {
    .type = 2, .key_size = 4, .value_size = 8, .max_entries = 4,
};

struct bpf_map_def_inner SEC("maps") by_service = {
    .type = 12, .key_size = 4, .value_size = 4, .max_entries = 8, .inner_map_idx = 1,
};

#include "legacy_inner.h"
