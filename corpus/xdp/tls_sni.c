/* Drops TLS ClientHellos whose server name is blocked: a TCP segment to port 443 that
 * holds a handshake record is walked as TLS lays it out -- a record header, the
 * handshake header, version and random, then three length-prefixed fields skipped by
 * their 8- or 16-bit big-endian lengths (session id, cipher suites, compression
 * methods), then up to 16 extensions of a 16-bit type and length.  The server_name
 * extension (type 0) gives the host name, at most 64 bytes, folded to lower case into
 * an FNV-1a hash looked up in a hash map.  A cursor struct moves through the packet,
 * and a count of the extension bytes left bounds the walk; every length comes from the
 * packet itself.  Outcomes are counted.  The running
 * kernel loads it (without the checks against MTU it refused the read after the
 * cipher suites: a pointer moved by a 16-bit length may pass 64 KiB, and it then
 * learns nothing from the bounds test; bpfjit proved it either way). */
#include "xdp.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u64);
    __type(value, __u32);
} blocked_names SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} hellos SEC(".maps");        /* 0: passed, 1: blocked, 2: malformed, 3: no name */

/* no field of a frame is longer than this: lengths past it are malformed (and the
 * kernel's verifier wants the offsets a walk can reach below 64 KiB) */
#define MTU 1500

struct cursor {
    __u8 *pos;
    __u8 *end;
};

static __always_inline int count(__u32 what, int verdict)
{
    __u64 *n = bpf_map_lookup_elem(&hellos, &what);
    if (n)
        __sync_fetch_and_add(n, 1);
    return verdict;
}

/* the next n bytes, and the cursor past them; NULL where fewer remain */
static __always_inline __u8 *take(struct cursor *c, __u32 n)
{
    __u8 *at = c->pos;
    if (at + n > c->end)
        return NULL;
    c->pos = at + n;
    return at;
}

static __always_inline int be16(struct cursor *c, __u32 *out)
{
    __u8 *p = take(c, 2);
    if (!p)
        return -1;
    *out = (__u32)p[0] << 8 | p[1];
    return 0;
}

/* skip a field with a `width`-byte length in front of it */
static __always_inline int skip_prefixed(struct cursor *c, int width)
{
    __u32 n;
    if (width == 1) {
        __u8 *p = take(c, 1);
        if (!p)
            return -1;
        n = *p;
    } else if (be16(c, &n) || n > MTU) {
        return -1;
    }
    return take(c, n) ? 0 : -1;
}

/* the FNV-1a hash of the next `len` bytes (at most 64) in lower case; 0 where the
 * packet ends first */
static __noinline __u64 name_hash(struct cursor *c, __u32 len)
{
    __u64 hash = 0xcbf29ce484222325ull;
    for (__u32 i = 0; i < 64 && i < len; i++) {
        __u8 *p = take(c, 1);
        if (!p)
            return 0;
        __u8 ch = *p;
        if (ch >= 'A' && ch <= 'Z')
            ch += 'a' - 'A';
        hash = (hash ^ ch) * 0x100000001b3ull;
    }
    return hash;
}

SEC("xdp")
int tls_sni(struct xdp_md *ctx)
{
    struct cursor c = { (void *)(long)ctx->data, (void *)(long)ctx->data_end };
    struct ethhdr *eth = (void *)take(&c, sizeof(*eth));
    if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)take(&c, sizeof(*ip));
    if (!ip || ip->protocol != IPPROTO_TCP || ip->ihl < 5)
        return XDP_PASS;
    if (!take(&c, (ip->ihl - 5) * 4))               /* IP options */
        return XDP_PASS;
    struct tcphdr *tcp = (void *)take(&c, sizeof(*tcp));
    if (!tcp || tcp->dest != bpf_htons(443))
        return XDP_PASS;
    __u32 doff = (bpf_ntohs(tcp->flags) >> 12) * 4;
    if (doff < sizeof(*tcp) || !take(&c, doff - sizeof(*tcp)))
        return XDP_PASS;
    /* record: type 22 (handshake), version, length; handshake: type 1, 24-bit length */
    __u8 *rec = take(&c, 5 + 4);
    if (!rec || rec[0] != 22 || rec[5] != 1)
        return XDP_PASS;
    if (!take(&c, 2 + 32))                          /* client version, random */
        return count(2, XDP_PASS);
    if (skip_prefixed(&c, 1) || skip_prefixed(&c, 2) || skip_prefixed(&c, 1))
        return count(2, XDP_PASS);
    __u32 total;
    if (be16(&c, &total))
        return count(3, XDP_PASS);                  /* no extensions */
    /* the extensions: `total` bytes, each a 16-bit type and length, then its data */
    for (int i = 0; i < 16 && total >= 4; i++) {
        __u32 type, len;
        if (be16(&c, &type) || be16(&c, &len))
            return count(2, XDP_PASS);
        if (len > MTU || len > total - 4)
            return count(2, XDP_PASS);
        total -= 4 + len;
        if (type != 0) {
            if (!take(&c, len))
                return count(2, XDP_PASS);
            continue;
        }
        /* server_name: list length, then entries of a type byte and a 16-bit length */
        __u32 list, name_len;
        __u8 *kind;
        if (be16(&c, &list) || !(kind = take(&c, 1)) || be16(&c, &name_len))
            return count(2, XDP_PASS);
        if (*kind != 0 || name_len == 0 || name_len + 5 > len)
            return count(3, XDP_PASS);
        __u64 hash = name_hash(&c, name_len);
        if (hash && bpf_map_lookup_elem(&blocked_names, &hash))
            return count(1, XDP_DROP);
        return count(0, XDP_PASS);
    }
    return count(3, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
