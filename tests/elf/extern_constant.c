/* A socket filter whose size limit is a constant its loader fills in: the lddw names an
 * undefined symbol, LIMIT, as Cloudflare's rakelimit writes its parameters
 * (`asm("%0 = LIMIT ll")`), which cilium/ebpf's loader rewrites.  Keeps packets of at
 * most LIMIT bytes whole and truncates the others to LIMIT; SHIFT (a second constant)
 * scales the length it returns for packets under the limit. */
#include "bpf_defs.h"

struct __sk_buff_len {
    u32 len;
};

#define CONSTANT(name) ({ u64 value; asm("%0 = " #name " ll" : "=r"(value)); value; })

SEC("socket")
int limit_size(struct __sk_buff_len *skb)
{
    u64 limit = CONSTANT(LIMIT);
    u64 shift = CONSTANT(SHIFT);

    if (skb->len > limit)
        return (int)limit;
    return (int)(skb->len << (shift & 7));
}

char _license[] SEC("license") = "GPL";
