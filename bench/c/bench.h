/* Shared by every benchmark kernel: the entry signature and small helpers.
 * Each kernel is compiled twice from the same source: to eBPF with
 * clang -O2 -target bpf (r1 = mem, r2 = len), and natively as the reference. */
#ifndef BENCH_H
#define BENCH_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define NOINLINE static __attribute__((noinline))

#define ENTRY __attribute__((used)) u64 entry(u8 *mem, u64 len)

/* Loads at offsets the kernels keep naturally aligned (the buffer is aligned). */
typedef u16 __attribute__((may_alias)) u16_alias;
typedef u32 __attribute__((may_alias)) u32_alias;
typedef u64 __attribute__((may_alias)) u64_alias;
static inline u16 load16(const u8 *p) { return *(const u16_alias *)p; }
static inline u32 load32(const u8 *p) { return *(const u32_alias *)p; }
static inline u64 load64(const u8 *p) { return *(const u64_alias *)p; }

#endif
