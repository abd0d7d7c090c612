/* A "key=value;" configuration parser written as a small library: noinline functions
 * that take (pointer, length) pairs and write results through out-parameters.  A key
 * is copied into a 24-byte stack buffer (cut to fit) by `copy_token`, which also
 * measures the value that follows; `match` compares it with each name of a constant
 * table (read-only data) through the same byte-compare function it uses on the stack;
 * `parse_num` reads the value straight from the input into the caller's u64.  Known
 * keys set fields of a settings struct; unknown ones are hashed from the stack copy.
 * Returns a hash of the settings and of the unknown keys. */
#include "corpus.h"

#define KEYMAX 24

struct settings {
    u64 port, timeout, retries, weight;
    u32 unknown, bad;
};

static const char names[4][8] = {"port", "timeout", "retries", "weight"};

HELPER u32 same_bytes(const u8 *a, const u8 *b, u32 n)
{
    for (u32 i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* copies the key (up to '=' or ';') into dst, at most cap bytes; *key_len is the key's
 * full length, the return value the value's length after the '=' (up to ';') */
HELPER u64 copy_token(u8 *dst, u32 cap, const u8 *src, u64 avail, u64 *key_len)
{
    u64 i = 0;
    while (i < avail && src[i] != '=' && src[i] != ';') {
        if (i < cap)
            dst[i] = src[i];
        i++;
    }
    *key_len = i;
    if (i >= avail || src[i] != '=')
        return 0;
    u64 v = i + 1;
    while (v < avail && src[v] != ';')
        v++;
    return v - i - 1;
}

HELPER int match(const u8 *key, u64 n)
{
    for (int k = 0; k < 4; k++) {
        u64 len = 0;
        while (len < 8 && names[k][len])
            len++;
        if (n == len && same_bytes(key, (const u8 *)names[k], (u32)n))
            return k;
    }
    return -1;
}

HELPER int parse_num(const u8 *p, u64 n, u64 *out)
{
    u64 v = 0;
    if (n == 0 || n > 19)
        return 0;
    for (u64 i = 0; i < n; i++) {
        u32 d = p[i] - '0';
        if (d > 9)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

PROGRAM
{
    struct settings s = {80, 30, 3, 1, 0, 0};
    u8 key[KEYMAX];
    u64 h = 0, at = 0;
    while (at < len) {
        u64 klen = 0;
        u64 vlen = copy_token(key, KEYMAX, mem + at, len - at, &klen);
        u64 vat = at + klen + 1;
        u64 stored = klen < KEYMAX ? klen : KEYMAX;
        int which = match(key, stored);
        u64 num = 0;
        int ok = vlen && parse_num(mem + vat, vlen, &num);
        if (which < 0) {
            s.unknown++;
            for (u64 i = 0; i < stored; i++)
                h = (h ^ key[i]) * 0x100000001b3ull;
        } else if (!ok) {
            s.bad++;
        } else if (which == 0) {
            s.port = num;
        } else if (which == 1) {
            s.timeout = num;
        } else if (which == 2) {
            s.retries = num;
        } else {
            s.weight = num;
        }
        at += klen + (vlen ? vlen + 1 : 0) + 1;
    }
    return h ^ (s.port * 31 + s.timeout) * 31 + s.retries * 7 + s.weight
           ^ (u64)s.unknown << 40 ^ (u64)s.bad << 52;
}
