/* Eight-byte records read as a C struct of bit-fields (kind:3, size:5, urgent:1,
 * id:23, then a u16 and a signed 12-bit delta beside a 4-bit tag): per kind, a count,
 * a sum of deltas and the largest id; urgent records weigh double. */
#include "corpus.h"

struct rec {
    u32 kind : 3, size : 5, urgent : 1, id : 23;
    u16 port;
    s16 delta : 12, tag : 4;
};

struct stat {
    u32 count;
    s32 sum;
    u32 max_id;
    u16 ports;
    u8 tags;
};

PROGRAM
{
    struct stat st[8] = {};
    for (u64 off = 0; off + 8 <= len && off < 4096; off += 8) {
        struct rec r;
        __builtin_memcpy(&r, mem + off, 8);
        struct stat *s = &st[r.kind];
        s->count += 1 + r.urgent;
        s->sum += r.delta * (r.size + 1);
        if (r.id > s->max_id)
            s->max_id = r.id;
        s->ports ^= r.port;
        s->tags |= 1 << (r.tag & 7);
    }
    u64 h = 0;
    for (int k = 0; k < 8; k++)
        h = h * 1000003 + st[k].count + (u32)st[k].sum * 7 + st[k].max_id + st[k].ports + st[k].tags;
    return h;
}
