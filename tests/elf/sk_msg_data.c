/* sk_msg programs that reshape the message a process sends.
 *
 * `reshape` runs up to two of bpf_msg_pull_data, _push_data and _pop_data as the
 * `plan` array's entry 0 says and records, in `seen`, what each returned and how many
 * bytes data..data_end and `size` show before and after, and the first bytes of the
 * window: a probe of the helpers' semantics (the tests compare it with what the
 * running kernel did for the same plan and message).
 *
 * `tag_request` is what a tracing sidecar does to an HTTP request: after its request
 * line (the first "\r\n" within the first 64 bytes), it inserts a header line
 * "x-trace: " and the 8 hex digits of the `trace` array's entry 0, then "\r\n".  A
 * message without a request line in reach passes unchanged.
 */
#include "bpf_defs.h"

struct plan {
    u32 op, start, end_or_len, flags;      /* op: 1 pull, 2 push, 3 pop; 0 none */
    u32 op2, start2, end_or_len2, flags2;
};

struct seen {
    s64 ret, ret2;
    u32 window_before, size_before, window, size;
    u8 bytes[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct plan);
} plan SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct seen);
} seen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u32);
} trace SEC(".maps");

static __attribute__((noinline)) long step(struct sk_msg_md *msg, u32 op, u32 a, u32 b,
                                           u32 flags)
{
    if (op == 1)
        return bpf_msg_pull_data(msg, a, b, flags);
    if (op == 2)
        return bpf_msg_push_data(msg, a, b, flags);
    if (op == 3)
        return bpf_msg_pop_data(msg, a, b, flags);
    return -1000;
}

SEC("sk_msg")
int reshape(struct sk_msg_md *msg)
{
    u32 zero = 0;
    struct plan *p = bpf_map_lookup_elem(&plan, &zero);
    struct seen *s = bpf_map_lookup_elem(&seen, &zero);

    if (!p || !s)
        return SK_PASS;
    s->window_before = (u32)((long)msg->data_end - (long)msg->data);
    s->size_before = msg->size;
    s->ret = step(msg, p->op, p->start, p->end_or_len, p->flags);
    s->ret2 = p->op2 ? step(msg, p->op2, p->start2, p->end_or_len2, p->flags2) : 0;
    s->window = (u32)((long)msg->data_end - (long)msg->data);
    s->size = msg->size;
    for (int i = 0; i < 16; i++) {
        u8 *at = (u8 *)(long)msg->data + i;

        if ((void *)(at + 1) > (void *)(long)msg->data_end)
            break;
        s->bytes[i] = *at;
    }
    return SK_PASS;
}

#define TAG_LEN 19              /* "x-trace: " + 8 hex digits + "\r\n" */

SEC("sk_msg")
int tag_request(struct sk_msg_md *msg)
{
    u32 zero = 0, line = 0, id;
    u32 *found = bpf_map_lookup_elem(&trace, &zero);
    u8 *data, *end;

    if (!found)
        return SK_PASS;
    id = *found;
    if (bpf_msg_pull_data(msg, 0, msg->size < 64 ? msg->size : 64, 0))
        return SK_PASS;
    data = (u8 *)(long)msg->data;
    end = (u8 *)(long)msg->data_end;
    for (u32 i = 0; i + 1 < 64; i++) {
        if (data + i + 2 > end)
            return SK_PASS;
        if (data[i] == '\r' && data[i + 1] == '\n') {
            line = i + 2;
            break;
        }
    }
    if (!line || bpf_msg_push_data(msg, line, TAG_LEN, 0))
        return SK_PASS;
    /* the new bytes are a piece of their own: pull them to write them */
    if (bpf_msg_pull_data(msg, line, line + TAG_LEN, 0))
        return SK_DROP;
    data = (u8 *)(long)msg->data;
    if (data + TAG_LEN > (u8 *)(long)msg->data_end)
        return SK_DROP;
    data[0] = 'x'; data[1] = '-'; data[2] = 't'; data[3] = 'r'; data[4] = 'a';
    data[5] = 'c'; data[6] = 'e'; data[7] = ':'; data[8] = ' ';
    for (int k = 0; k < 8; k++) {
        u32 nibble = (id >> (28 - 4 * k)) & 0xf;

        data[9 + k] = nibble < 10 ? '0' + nibble : 'a' + nibble - 10;
    }
    data[17] = '\r';
    data[18] = '\n';
    return SK_PASS;
}

char _license[] SEC("license") = "GPL";
