/* A flow table of 16 entries on the stack: each 12-byte record of the input is a flow
 * key (two u32 addresses, two u16 ports); a lookup function returns a pointer to the
 * matching entry or NULL, probing linearly from the key's hash; a miss inserts into
 * the first free entry, a full table evicts the entry the hash points at.  Packets and
 * bytes are counted per flow; returns a fold of the table. */
#include "corpus.h"

struct flow {
    u32 src, dst;
    u16 sport, dport;
    u32 packets;
    u64 bytes;
};

#define SLOTS 16

HELPER struct flow *find(struct flow *tab, const u8 *rec, u32 *free_slot)
{
    u32 src = get_le32(rec), dst = get_le32(rec + 4);
    u16 sport = rec[8] | rec[9] << 8, dport = rec[10] | rec[11] << 8;
    u32 h = (src * 2654435761u ^ dst * 40503u ^ sport ^ (u32)dport << 16) >> 28;
    *free_slot = h;
    for (u32 i = 0; i < SLOTS; i++) {
        struct flow *f = &tab[(h + i) & (SLOTS - 1)];
        if (f->packets == 0) {
            *free_slot = (h + i) & (SLOTS - 1);
            return 0;
        }
        if (f->src == src && f->dst == dst && f->sport == sport && f->dport == dport)
            return f;
    }
    return 0;
}

PROGRAM
{
    struct flow tab[SLOTS];
    for (int i = 0; i < SLOTS; i++) {
        tab[i].src = tab[i].dst = 0;
        tab[i].sport = tab[i].dport = 0;
        tab[i].packets = 0;
        tab[i].bytes = 0;
    }
    for (u64 off = 0; off + 12 <= len && off < 12 * 1024; off += 12) {
        const u8 *rec = mem + off;
        u32 slot;
        struct flow *f = find(tab, rec, &slot);
        if (!f) {
            f = &tab[slot];
            f->src = get_le32(rec);
            f->dst = get_le32(rec + 4);
            f->sport = rec[8] | rec[9] << 8;
            f->dport = rec[10] | rec[11] << 8;
            f->packets = 0;
            f->bytes = 0;
        }
        f->packets++;
        f->bytes += rec[11] + 40;
    }
    u64 h = 0;
    for (int i = 0; i < SLOTS; i++)
        h = h * 31 + tab[i].packets * 7 + tab[i].bytes + tab[i].src;
    return h;
}
