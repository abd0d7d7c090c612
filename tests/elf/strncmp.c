/* bpf_strncmp: an HTTP request's method told from its first bytes, against strings
 * in .rodata (the kernel's ARG_PTR_TO_CONST_STR: read-only data, NUL-terminated).
 * The packet is the payload itself.  Returns 10 for "GET", 11 for "POST", else
 * 20 + strncmp(first 8 bytes, "HEAD") (-1, 0 or 1); 2 for fewer than 8 bytes. */
#include "bpf_defs.h"

static long (*bpf_strncmp)(const char *s1, u32 s1_sz, const char *s2) = (void *)182;

SEC("xdp")
int http_method(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    char line[8];

    if (data + 8 > end)
        return 2;
    __builtin_memcpy(line, data, 8);
    if (bpf_strncmp(line, 3, "GET") == 0)
        return 10;
    if (bpf_strncmp(line, 4, "POST") == 0)
        return 11;
    return 20 + bpf_strncmp(line, 8, "HEAD");
}

char LICENSE[] SEC("license") = "GPL";
