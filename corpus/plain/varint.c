/* Protocol-buffer style records: a varint key (field number << 3 | wire type) then a
 * varint value or a length-delimited payload; sums values per field number and
 * skips payloads, walking the buffer with a pointer until the end. */
#include "corpus.h"

static inline const u8 *varint(const u8 *p, const u8 *end, u64 *out)
{
    u64 v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
        u8 b = *p++;
        v |= (u64)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return p;
        }
    }
    return 0;
}

PROGRAM
{
    const u8 *p = mem, *end = mem + len;
    u64 sums[8] = {0};
    u64 skipped = 0, fields = 0;
    while (p < end) {
        u64 key, value;
        p = varint(p, end, &key);
        if (!p)
            break;
        u32 wire = key & 7;
        if (wire == 0) {
            p = varint(p, end, &value);
            if (!p)
                break;
            sums[(key >> 3) & 7] += value;
        } else if (wire == 2) {
            p = varint(p, end, &value);
            if (!p || value > (u64)(end - p))
                break;
            skipped += value;
            p += value;
        } else {
            break;
        }
        fields++;
    }
    u64 h = fields << 32 ^ skipped;
    for (int i = 0; i < 8; i++)
        h = h * 1099511628211ULL ^ sums[i];
    return h;
}
