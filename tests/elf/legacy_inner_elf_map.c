/* A map of maps defined as iproute2's loader reads them: 36-byte `struct bpf_elf_map`
 * records in section maps, the outer map naming its inner map's `id` by `inner_id`
 * (cilium's maglev tables before BTF); the program is legacy_inner.h's. */
#include "bpf_defs.h"

struct bpf_elf_map {
    u32 type;
    u32 size_key;
    u32 size_value;
    u32 max_elem;
    u32 flags;
    u32 id;
    u32 pinning;
    u32 inner_id;
    u32 inner_idx;
};

struct bpf_elf_map SEC("maps") backends = {
    .type = 2, .size_key = 4, .size_value = 8, .max_elem = 4,
    .id = 7, .inner_idx = 0xffffffff,
};

struct bpf_elf_map SEC("maps") by_service = {
    .type = 13, .size_key = 4, .size_value = 4, .max_elem = 8, .inner_id = 7,
};

#include "legacy_inner.h"
