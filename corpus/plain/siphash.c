/* SipHash-2-4 of many short messages: the first 16 bytes of the input are the key
 * (zeros when the input is shorter), then each message is a length byte (its low six
 * bits, cut short at the input's end) and that many bytes.  Message words are read
 * little-endian a byte at a time; the state is four 64-bit words mixed by add, rotate
 * and xor only.  Returns a fold of every message's hash. */
#include "corpus.h"

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
    u64 v0, v1, v2, v3;
};

static inline void sip_round(struct sip *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static inline u64 load_le64(const u8 *p, u64 n)
{
    u64 w = 0;
    for (u64 i = 0; i < n; i++)
        w |= (u64)p[i] << (8 * i);
    return w;
}

static inline u64 siphash(u64 k0, u64 k1, const u8 *m, u64 n)
{
    struct sip s = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                    k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    u64 whole = n & ~7ULL;
    for (u64 i = 0; i < whole; i += 8) {
        u64 w = load_le64(m + i, 8);
        s.v3 ^= w;
        sip_round(&s);
        sip_round(&s);
        s.v0 ^= w;
    }
    u64 last = load_le64(m + whole, n - whole) | n << 56;
    s.v3 ^= last;
    sip_round(&s);
    sip_round(&s);
    s.v0 ^= last;
    s.v2 ^= 0xff;
    for (int r = 0; r < 4; r++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

PROGRAM
{
    u64 k0 = 0, k1 = 0;
    u64 pos = 0;
    if (len >= 16) {
        k0 = load_le64(mem, 8);
        k1 = load_le64(mem + 8, 8);
        pos = 16;
    }
    u64 h = siphash(k0, k1, mem, 0);
    for (u32 count = 0; pos < len && count < 1024; count++) {
        u64 n = mem[pos++] & 63;
        if (n > len - pos)
            n = len - pos;
        h = h * 31 ^ siphash(k0, k1, mem + pos, n);
        pos += n;
    }
    return h;
}
