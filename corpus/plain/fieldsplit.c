/* Splitting a line into fields: separators are spaces and commas; each field's start
 * and length (u16 each) go into a table of 32 entries on the stack, filled by a
 * non-inlined function that returns the count; the caller then hashes each field
 * through the table, longest field first found by a scan. */
#include "corpus.h"

struct field {
    u16 start, len;
};

HELPER u32 split(const u8 *s, u32 n, struct field *f)
{
    u32 count = 0, i = 0;
    while (i < n && count < 32) {
        while (i < n && (s[i] == ' ' || s[i] == ','))
            i++;
        u32 start = i;
        while (i < n && s[i] != ' ' && s[i] != ',')
            i++;
        if (i > start) {
            f[count].start = start;
            f[count].len = i - start;
            count++;
        }
    }
    return count;
}

PROGRAM
{
    struct field f[32];
    u64 h = 0;
    u32 n = min(len, 1024);
    u32 count = split(mem, n, f);
    u32 longest = 0;
    for (u32 k = 0; k < count; k++) {
        if (f[k].len > f[longest].len)
            longest = k;
        u32 s = f[k].start, e = s + f[k].len;
        for (u32 i = s; i < e && i < n; i++)
            h = h * 131 + mem[i];
    }
    return h ^ (u64)longest << 56 ^ count;
}
