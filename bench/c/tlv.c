/* A record loop over type-length-value records (1-byte type, 1-byte length,
 * then the value), as option lists and telemetry streams are laid out.  Each
 * type is handled its own way: sums of little-endian words, counts of high
 * bytes, varint decoding; a malformed record ends the walk. */
#include "bench.h"

ENTRY
{
    const u8 *p = mem, *end = mem + len;
    u64 words = 0, high = 0, varints = 0, records = 0, skipped = 0;
    while (p + 2 <= end) {
        u8 type = p[0], length = p[1];
        const u8 *value = p + 2;
        if (value + length > end)
            break;
        switch (type & 3) {
        case 0:
            for (u32 i = 0; i + 4 <= length; i += 4)
                words += load32(value + i) & 0x7fffffff;
            break;
        case 1:
            for (u32 i = 0; i < length; i++)
                high += value[i] >> 7;
            break;
        case 2: {
            u64 v = 0;
            u32 shift = 0;
            for (u32 i = 0; i < length && shift < 64; i++, shift += 7) {
                v |= (u64)(value[i] & 0x7f) << shift;
                if (!(value[i] & 0x80)) {
                    varints += v;
                    v = 0;
                    shift = (u32)-7;
                }
            }
            break;
        }
        default:
            skipped += length;
        }
        records++;
        p = value + length;
    }
    return words + (high << 20) + (varints << 8) + (records << 40) + skipped;
}
