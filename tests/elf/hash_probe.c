/* Hash map lookups keyed by what the packet carries: each 4-byte word of the packet is
 * looked up in `small` (u32 keys), and each 13-byte record in `odd` (a packed key whose
 * last word is 5 bytes long).  Returns the sum of the values found plus 1000 per miss. */
#include "bpf_defs.h"

struct odd_key {
    u32 a;
    u32 b;
    u8 c[5];
} __attribute__((packed));

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, u32);
    __type(value, u64);
} small SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct odd_key);
    __type(value, u64);
} odd SEC(".maps");

SEC("xdp")
int probe_words(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u64 total = 0;
    for (int i = 0; i < 32; i++) {
        u32 *word = data + 4 * i;
        if ((void *)(word + 1) > data_end)
            break;
        u32 key = *word;
        u64 *value = bpf_map_lookup_elem(&small, &key);
        total += value ? *value : 1000;
    }
    return total;
}

SEC("xdp")
int probe_records(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u64 total = 0;
    for (int i = 0; i < 16; i++) {
        struct odd_key *record = data + 13 * i;
        if ((void *)(record + 1) > data_end)
            break;
        struct odd_key key;
        __builtin_memcpy(&key, record, sizeof(key));
        u64 *value = bpf_map_lookup_elem(&odd, &key);
        total += value ? *value : 1000;
    }
    return total;
}
