/* Hashes length-prefixed records two ways and folds the hashes together, as a flow
 * table keyed by variable-length names would.  Each record is a length byte and that
 * many bytes (a record that would pass the end stops the walk).  xxhash32, written as
 * its reference is: 16-byte stripes in four lanes while the pointer stays at or below
 * a limit 16 bytes before the end, then `len &= 15` and 4-byte rounds while 4 bytes
 * are left, then single bytes -- each loop counting what is left down while its
 * pointer moves up.  Bob Jenkins' lookup3, byte by byte: 12-byte rounds while more
 * than 12 are left, then the last 1-12 added by a switch whose cases fall through. */
#include "corpus.h"

#define PRIME1 0x9E3779B1u
#define PRIME2 0x85EBCA77u
#define PRIME3 0xC2B2AE3Du
#define PRIME4 0x27D4EB2Fu
#define PRIME5 0x165667B1u

static inline u32 rotl(u32 x, int k)
{
    return x << k | x >> (32 - k);
}

static inline u32 lane(u32 acc, u32 word)
{
    return rotl(acc + word * PRIME2, 13) * PRIME1;
}

static inline u32 xxhash32(const u8 *p, u32 len, u32 seed)
{
    const u8 *stop = p + len;
    u32 h;
    if (len >= 16) {
        const u8 *limit = stop - 16;
        u32 v1 = seed + PRIME1 + PRIME2, v2 = seed + PRIME2, v3 = seed, v4 = seed - PRIME1;
        do {
            v1 = lane(v1, get_le32(p));
            v2 = lane(v2, get_le32(p + 4));
            v3 = lane(v3, get_le32(p + 8));
            v4 = lane(v4, get_le32(p + 12));
            p += 16;
        } while (p <= limit);
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    } else {
        h = seed + PRIME5;
    }
    h += len;
    len &= 15;
    while (len >= 4) {
        h = rotl(h + get_le32(p) * PRIME3, 17) * PRIME4;
        p += 4;
        len -= 4;
    }
    while (len > 0) {
        h = rotl(h + *p * PRIME5, 11) * PRIME1;
        p++;
        len--;
    }
    h ^= h >> 15;
    h *= PRIME2;
    h ^= h >> 13;
    h *= PRIME3;
    h ^= h >> 16;
    return h;
}

static inline u32 lookup3(const u8 *k, u32 left, u32 seed)
{
    u32 a, b, c;
    a = b = c = 0xDEADBEEF + left + seed;
    while (left > 12) {
        a += get_le32(k);
        b += get_le32(k + 4);
        c += get_le32(k + 8);
        a -= c; a ^= rotl(c, 4);  c += b;
        b -= a; b ^= rotl(a, 6);  a += c;
        c -= b; c ^= rotl(b, 8);  b += a;
        a -= c; a ^= rotl(c, 16); c += b;
        b -= a; b ^= rotl(a, 19); a += c;
        c -= b; c ^= rotl(b, 4);  b += a;
        left -= 12;
        k += 12;
    }
    switch (left) {
    case 12: c += (u32)k[11] << 24;     /* fall through */
    case 11: c += (u32)k[10] << 16;     /* fall through */
    case 10: c += (u32)k[9] << 8;       /* fall through */
    case 9:  c += k[8];                 /* fall through */
    case 8:  b += (u32)k[7] << 24;      /* fall through */
    case 7:  b += (u32)k[6] << 16;      /* fall through */
    case 6:  b += (u32)k[5] << 8;       /* fall through */
    case 5:  b += k[4];                 /* fall through */
    case 4:  a += (u32)k[3] << 24;      /* fall through */
    case 3:  a += (u32)k[2] << 16;      /* fall through */
    case 2:  a += (u32)k[1] << 8;       /* fall through */
    case 1:  a += k[0];
        c ^= b; c -= rotl(b, 14);
        a ^= c; a -= rotl(c, 11);
        b ^= a; b -= rotl(a, 25);
        c ^= b; c -= rotl(b, 16);
        a ^= c; a -= rotl(c, 4);
        b ^= a; b -= rotl(a, 14);
        c ^= b; c -= rotl(b, 24);
        break;
    default:
        break;
    }
    return c;
}

PROGRAM
{
    u64 folded = 0;
    u32 records = 0;
    u64 i = 0;
    while (i < len) {
        u32 n = mem[i];
        if (n > len - i - 1)
            break;
        const u8 *rec = mem + i + 1;
        u32 x = xxhash32(rec, n, records);
        u32 j = lookup3(rec, n, x);
        folded = (folded ^ ((u64)x << 32 | j)) * 0x100000001B3ull;
        records++;
        i += 1 + n;
    }
    return folded ^ records;
}
