/* Hash map lookups keyed by what the packet carries: each 4-byte word of the packet is
 * looked up in `small` (u32 keys), and each 13-byte record in `odd` (a packed key whose
 * last word is 5 bytes long).  Returns the sum of the values found plus 1000 per miss. */
#include "bpf_defs.h"

/* The i-th 4-byte word of the packet in *word; 0 past its end. */
static inline __attribute__((always_inline)) int word_at(void *data, void *data_end, int i, u32 *word)
{
    u32 *at = data + 4 * i;
    if ((void *)(at + 1) > data_end)
        return 0;
    *word = *at;
    return 1;
}

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
    u32 key;
    for (int i = 0; i < 32 && word_at(data, data_end, i, &key); i++) {
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

/* A counting table written by the program itself: for each 4-byte word w of the packet,
 * w with the top bit set deletes key w & 0x7fffffff (+1 if it was there, +1000 if not);
 * otherwise key w is inserted with count 1 (BPF_NOEXIST; +1), or its count raised
 * through BPF_EXIST (+3), or the table is full (+7000). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8);
    __type(key, u32);
    __type(value, u64);
} counts SEC(".maps");

SEC("xdp")
int count_words(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u64 total = 0;
    u32 key;
    for (int i = 0; i < 32 && word_at(data, data_end, i, &key); i++) {
        if (key & 0x80000000) {
            key &= 0x7fffffff;
            total += bpf_map_delete_elem(&counts, &key) == 0 ? 1 : 1000;
            continue;
        }
        u64 one = 1;
        long result = bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
        if (result == 0) {
            total += 1;
        } else if (result == -17) {             /* EEXIST */
            u64 *count = bpf_map_lookup_elem(&counts, &key);
            u64 raised = (count ? *count : 0) + 1;
            total += bpf_map_update_elem(&counts, &key, &raised, BPF_EXIST) == 0 ? 3 : 5000;
        } else {
            total += result == -7 ? 7000 : 9000;      /* E2BIG: full */
        }
    }
    return total;
}

/* A cache of the last four distinct words: each word found adds its value, each word
 * missing is inserted with value 2w + 1 (evicting the least recently used) and adds 1000. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, u64);
} recent SEC(".maps");

SEC("xdp")
int remember_words(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u64 total = 0;
    u32 key;
    for (int i = 0; i < 32 && word_at(data, data_end, i, &key); i++) {
        u64 *value = bpf_map_lookup_elem(&recent, &key);
        if (value) {
            total += *value;
        } else {
            u64 fresh = 2 * (u64)key + 1;
            bpf_map_update_elem(&recent, &key, &fresh, BPF_ANY);
            total += 1000;
        }
    }
    return total;
}

/* Array updates from a program: each 4-byte word w of the packet updates element
 * w & 0xff with value w >> 16 and flags (w >> 8) & 0xff; the results (0 or -errno) are
 * folded into the return value, and one delete (always -EINVAL for arrays) is added. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 6);
    __type(key, u32);
    __type(value, u64);
} slots SEC(".maps");

SEC("xdp")
int set_slots(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u64 total = 0;
    u32 word;
    for (int i = 0; i < 16 && word_at(data, data_end, i, &word); i++) {
        u32 key = word & 0xff;
        u64 value = word >> 16;
        long result = bpf_map_update_elem(&slots, &key, &value, (word >> 8) & 0xff);
        total = total * 31 + (u64)(-result);
    }
    u32 first = 0;
    return total * 31 + (u64)(-bpf_map_delete_elem(&slots, &first));
}
