/* A first-match packet firewall.  The buffer starts with a rule table (a count,
 * then 32-byte rules), followed by 64-byte packet slots holding Ethernet,
 * optional VLAN, IPv4 and TCP/UDP headers.  Each packet is matched against the
 * rules on source and destination prefixes, protocol, port ranges, TCP flags
 * and TTL; the result counts packets per verdict and hashes the matching rules. */
#include "bench.h"

#define SLOT 64
#define MAX_RULES 32

struct rule {
    u32 src, src_mask, dst, dst_mask;
    u16 sport_lo, sport_hi, dport_lo, dport_hi;
    u8 proto, flags_set, flags_clear, min_ttl;
    u32 action;
};

struct fields {
    u32 src, dst;
    u16 sport, dport;
    u8 proto, flags, ttl, fragment;
};

static inline u16 be16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static inline u32 be32(const u8 *p)
{
    return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static int extract(const u8 *p, const u8 *end, struct fields *f)
{
    if (p + 14 > end)
        return 0;
    u16 type = be16(p + 12);
    p += 14;
    if (type == 0x8100) {
        if (p + 4 > end)
            return 0;
        type = be16(p + 2);
        p += 4;
    }
    if (type != 0x0800 || p + 20 > end)
        return 0;
    u32 ihl = (p[0] & 15) * 4u;
    if (ihl < 20)
        return 0;
    f->ttl = p[8];
    f->proto = p[9];
    f->src = be32(p + 12);
    f->dst = be32(p + 16);
    f->fragment = (be16(p + 6) & 0x3fff) != 0;
    f->sport = f->dport = 0;
    f->flags = 0;
    const u8 *l4 = p + ihl;
    if (f->fragment)
        return 1;
    if (f->proto == 6) {
        if (l4 + 14 > end)
            return 0;
        f->flags = l4[13];
    } else if (f->proto != 17) {
        return 1;
    } else if (l4 + 4 > end) {
        return 0;
    }
    f->sport = be16(l4);
    f->dport = be16(l4 + 2);
    return 1;
}

static int matches(const struct rule *r, const struct fields *f)
{
    if ((f->src & r->src_mask) != r->src || (f->dst & r->dst_mask) != r->dst)
        return 0;
    if (r->proto && r->proto != f->proto)
        return 0;
    if (f->sport < r->sport_lo || f->sport > r->sport_hi)
        return 0;
    if (f->dport < r->dport_lo || f->dport > r->dport_hi)
        return 0;
    if ((f->flags & r->flags_set) != r->flags_set || (f->flags & r->flags_clear))
        return 0;
    return f->ttl >= r->min_ttl;
}

ENTRY
{
    if (len < 4)
        return 0;
    u32 nrules = load32(mem);
    if (nrules > MAX_RULES)
        nrules = MAX_RULES;
    u64 table = 4 + nrules * sizeof(struct rule);
    if (table > len)
        return 0;
    const struct rule *rules = (const struct rule *)(mem + 4);
    u64 verdicts[4] = {0, 0, 0, 0};
    u64 trail = 0;
    for (u64 off = table; off + SLOT <= len; off += SLOT) {
        struct fields f;
        if (!extract(mem + off, mem + off + SLOT, &f)) {
            verdicts[3]++;
            continue;
        }
        u32 action = 0;                     /* default: pass */
        for (u32 i = 0; i < nrules; i++) {
            if (matches(&rules[i], &f)) {
                action = rules[i].action & 3;
                trail = trail * 31 + i;
                break;
            }
        }
        verdicts[action]++;
    }
    return trail ^ verdicts[0] ^ verdicts[1] << 16 ^ verdicts[2] << 32 ^ verdicts[3] << 48;
}
