/* A "key=value;" settings string, walked with pointers: each key is compared byte by
 * byte with a table of known names (a hand-written memcmp), and a known key's value,
 * decimal digits, is parsed and folded into that key's slot; unknown keys are counted.
 * Spaces around keys and values are skipped. */
#include "corpus.h"

static const char names[4][8] = { "port", "timeout", "retries", "mtu" };
static const u8 name_len[4] = { 4, 7, 7, 3 };

static inline int same(const u8 *a, const u8 *b, u64 n)
{
    for (u64 k = 0; k < n; k++)
        if (a[k] != b[k])
            return 0;
    return 1;
}

PROGRAM
{
    const u8 *p = mem, *end = mem + len;
    u64 slot[4] = {0}, unknown = 0, pairs = 0;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const u8 *key = p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        u64 klen = p - key;
        while (klen && key[klen - 1] == ' ')
            klen--;
        if (p == end || *p == ';') {
            p++;
            continue;
        }
        p++;                                    /* the '=' */
        while (p < end && *p == ' ')
            p++;
        u64 value = 0;
        while (p < end && *p >= '0' && *p <= '9')
            value = value * 10 + (*p++ - '0');
        while (p < end && *p != ';')
            p++;
        p++;
        int found = -1;
        for (int i = 0; i < 4; i++)
            if (klen == name_len[i] && same(key, (const u8 *)names[i], klen))
                found = i;
        if (found < 0)
            unknown++;
        else
            slot[found] = slot[found] * 31 + value;
        pairs++;
    }
    return slot[0] ^ slot[1] << 16 ^ slot[2] << 32 ^ slot[3] << 48 ^ unknown << 56 ^ pairs;
}
