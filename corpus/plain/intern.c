/* A string interner in a pool on the caller's stack, through non-inlined functions that
 * return pointers: `next_word` a pointer into the input to the next word of letters or
 * NULL, `lookup` a pointer into the pool's bytes to an equal string or NULL, `intern`
 * that pointer or a new copy's, NULL when the pool is full.  Words are cut at 15 bytes.
 * Returns the distinct words, the words seen, the pool bytes used and a hash of each
 * word's offset in the pool, in the order seen. */
#include "corpus.h"

#define POOL_BYTES 256
#define MAX_STRINGS 32
#define MAX_WORD 15

struct pool {
    u8 bytes[POOL_BYTES];
    u8 start[MAX_STRINGS];        /* offset of each string in bytes (pool < 256) */
    u8 length[MAX_STRINGS];
    u32 count;
    u32 used;
};

static int is_letter(u8 c)
{
    return (u8)((c | 0x20) - 'a') < 26;
}

HELPER const u8 *next_word(const u8 *p, const u8 *end)
{
    while (p < end && !is_letter(*p))
        p++;
    return p < end ? p : 0;
}

HELPER u8 *lookup(struct pool *pool, const u8 *word, u32 n)
{
    for (u32 i = 0; i < pool->count && i < MAX_STRINGS; i++) {
        if (pool->length[i] != n)
            continue;
        u8 *s = pool->bytes + pool->start[i];
        u32 k = 0;
        while (k < n && s[k] == word[k])
            k++;
        if (k == n)
            return s;
    }
    return 0;
}

HELPER u8 *intern(struct pool *pool, const u8 *word, u32 n)
{
    u8 *found = lookup(pool, word, n);
    if (found)
        return found;
    if (pool->count >= MAX_STRINGS || pool->used + n > POOL_BYTES)
        return 0;
    u8 *copy = pool->bytes + pool->used;
    for (u32 k = 0; k < n; k++)
        copy[k] = word[k];
    pool->start[pool->count] = pool->used;
    pool->length[pool->count] = n;
    pool->count++;
    pool->used += n;
    return copy;
}

PROGRAM
{
    struct pool pool;
    pool.count = 0;
    pool.used = 0;
    const u8 *end = mem + len, *p = mem;
    u64 seen = 0, hash = 0, full = 0;
    for (u32 guard = 0; guard < 4096; guard++) {
        p = next_word(p, end);
        if (!p)
            break;
        u32 n = 0;
        while (n < MAX_WORD && p + n < end && is_letter(p[n]))
            n++;
        u8 *s = intern(&pool, p, n);
        if (s)
            hash = hash * 31 + (u64)(s - pool.bytes) + 1;
        else
            full++;
        seen++;
        p += n;
        while (p < end && is_letter(*p))      /* the rest of a long word */
            p++;
    }
    return (u64)pool.count << 48 | seen << 32 | (u64)pool.used << 20 | full << 16 |
           (hash & 0xffff);
}
