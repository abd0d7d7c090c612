/* A forwarding step whose rows live in maps its loader defines: `tables`, an array of
 * maps, declares neither its value size nor its inner map, leaving both to the loader
 * as github/glb-director's forwarding tables do (its Go loader sets cilium/ebpf's
 * MapSpec.InnerMap).  bpfjit takes the inner definition from load_elf's inner_maps=.
 * Byte 14 of the packet picks the table, the low four bits of byte 15 the row; a row
 * holding 0x1122334455667788 sends the packet back (XDP_TX), any other passes it, and
 * without a table or row the packet is dropped. */
#include "bpf_defs.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(key_size, 4);
    __uint(max_entries, 4);
} tables SEC(".maps");

/* a map of maps that declares its inner map: a loader's definition may not replace it */
struct rows {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(key_size, 4);
    __uint(value_size, 8);
    __uint(max_entries, 16);
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(key_size, 4);
    __uint(max_entries, 2);
    __array(values, struct rows);
} declared SEC(".maps");

SEC("xdp")
int pick_row(struct xdp_md *ctx)
{
    u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 16 > end)
        return 0;                               /* XDP_ABORTED */
    u32 table_id = data[14], row = data[15] & 15;
    void *table = bpf_map_lookup_elem(&tables, &table_id);
    if (!table)
        return 1;                               /* XDP_DROP */
    u64 *value = bpf_map_lookup_elem(table, &row);
    if (!value)
        return 1;
    return *value == 0x1122334455667788ULL ? 3 : 2;    /* XDP_TX : XDP_PASS */
}

char _license[] SEC("license") = "GPL";
