/* Type-length-value options, each handled by a void function that updates a stats
 * structure on the caller's stack; the walk stops at the end option, at a malformed
 * option, or after 64 options. */
#include "corpus.h"

struct stats {
    u32 seen[16];
    u64 mss;
    u64 wscale;
    u64 timestamps;
    u64 unknown_bytes;
    u32 sack_blocks;
};

HELPER void opt_mss(struct stats *st, const u8 *v, u32 n)
{
    if (n == 2)
        st->mss = get_be16(v);
}

HELPER void opt_wscale(struct stats *st, const u8 *v, u32 n)
{
    if (n == 1)
        st->wscale = min(v[0], 14);
}

HELPER void opt_timestamp(struct stats *st, const u8 *v, u32 n)
{
    if (n != 8)
        return;
    u64 tsval = (u64)v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3];
    u64 tsecr = (u64)v[4] << 24 | v[5] << 16 | v[6] << 8 | v[7];
    st->timestamps += tsval ^ tsecr;
}

HELPER void opt_sack(struct stats *st, const u8 *v, u32 n)
{
    for (u32 i = 0; i + 8 <= n; i += 8)
        if (get_le32(v + i) < get_le32(v + i + 4))
            st->sack_blocks++;
}

HELPER void opt_unknown(struct stats *st, const u8 *v, u32 n)
{
    for (u32 i = 0; i < n; i++)
        st->unknown_bytes += v[i];
}

PROGRAM
{
    struct stats st;
    __builtin_memset(&st, 0, sizeof(st));
    u64 off = 0;
    for (int count = 0; count < 64 && off < len; count++) {
        u8 type = mem[off];
        if (type == 0)
            break;
        if (type == 1) {            /* padding: one byte */
            off++;
            continue;
        }
        if (off + 2 > len)
            break;
        u32 n = mem[off + 1];
        if (n < 2 || off + n > len)
            break;
        const u8 *value = mem + off + 2;
        st.seen[type & 15]++;
        switch (type) {
        case 2: opt_mss(&st, value, n - 2); break;
        case 3: opt_wscale(&st, value, n - 2); break;
        case 5: opt_sack(&st, value, n - 2); break;
        case 8: opt_timestamp(&st, value, n - 2); break;
        default: opt_unknown(&st, value, n - 2); break;
        }
        off += n;
    }
    u64 r = st.mss ^ st.wscale << 16 ^ st.timestamps ^ st.unknown_bytes << 20 ^
            (u64)st.sack_blocks << 40 ^ off << 48;
    for (int t = 0; t < 16; t++)
        r = r * 7 + st.seen[t];
    return r;
}
