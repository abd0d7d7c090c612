/* Plain corpus programs take (mem, len) and return a 64-bit result.  The same source
 * is compiled for BPF (r1 = mem, r2 = len) and natively, and the native results are
 * the expected values of the tests. */
#ifndef CORPUS_H
#define CORPUS_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;

#define PROGRAM __attribute__((used)) u64 entry(const u8 *mem, u64 len)
#define HELPER static __attribute__((noinline))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))

static inline u32 get_le32(const u8 *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24;
}

static inline u16 get_be16(const u8 *p)
{
    return (u16)(p[0] << 8 | p[1]);
}

#endif
