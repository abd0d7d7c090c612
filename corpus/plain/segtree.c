/* A segment tree of range sums over up to 32 little-endian u16 values (leaves at
 * 32..63 of an implicit array on the stack, parents at i / 2), then queries from the
 * rest of the buffer: each pair of bytes (l, r) sums values l..r (mod 32, swapped if
 * out of order) by climbing from both ends; an update every fourth query.  Returns a
 * hash of the answers. */
#include "corpus.h"

#define N 32

PROGRAM
{
    u32 tree[2 * N];
    u32 n = len / 2 < N ? (u32)(len / 2) : N;
    for (u32 i = 0; i < N; i++)
        tree[N + i] = i < n ? (u32)(mem[2 * i] | mem[2 * i + 1] << 8) : 0;
    for (u32 i = N - 1; i >= 1; i--)
        tree[i] = tree[2 * i] + tree[2 * i + 1];
    u64 h = 0;
    u32 q = 0;
    for (u64 at = 2 * (u64)n; at + 1 < len; at += 2, q++) {
        u32 l = mem[at] % N, r = mem[at + 1] % N;
        if (l > r) {
            u32 t = l; l = r; r = t;
        }
        if ((q & 3) == 3) {         /* an update: leaf l gets r, parents follow */
            u32 i = N + l;
            tree[i] = r;
            for (i /= 2; i >= 1; i /= 2)
                tree[i] = tree[2 * i] + tree[2 * i + 1];
            continue;
        }
        u32 sum = 0;
        for (u32 a = l + N, b = r + N + 1; a < b; a /= 2, b /= 2) {
            if (a & 1)
                sum += tree[a++];
            if (b & 1)
                sum += tree[--b];
        }
        h = h * 31 + sum;
    }
    return h ^ tree[1];
}
