/* The rank and determinant of a square matrix modulo the prime 65521 by Gaussian
 * elimination: a size byte (1 to 6), then the entries as bytes, row by row; a pivot
 * is searched for in each column, rows swapped through a permutation of row indices,
 * and each row below reduced with the pivot's inverse (Fermat: p^(m-2)).  Returns the
 * rank and the determinant, packed. */
#include "corpus.h"

#define P 65521u
#define MAXN 6

static inline u32 mulmod(u32 a, u32 b)
{
    return (u64)a * b % P;
}

HELPER u32 inverse(u32 a)
{
    u32 r = 1, e = P - 2;
    while (e) {
        if (e & 1)
            r = mulmod(r, a);
        a = mulmod(a, a);
        e >>= 1;
    }
    return r;
}

PROGRAM
{
    u32 m[MAXN][MAXN];
    u8 row[MAXN];
    if (len < 1)
        return 0;
    u32 n = mem[0] % MAXN + 1;
    if (len < 1 + n * n)
        return 1;
    for (u32 i = 0; i < n; i++) {
        row[i] = i;
        for (u32 j = 0; j < n; j++)
            m[i][j] = mem[1 + i * n + j];
    }
    u32 rank = 0, det = 1;
    for (u32 c = 0; c < n; c++) {
        u32 pivot = n;
        for (u32 r = rank; r < n; r++)
            if (m[row[r]][c] != 0) {
                pivot = r;
                break;
            }
        if (pivot == n) {
            det = 0;
            continue;
        }
        if (pivot != rank) {
            u8 t = row[pivot];
            row[pivot] = row[rank];
            row[rank] = t;
            det = det ? P - det : 0;
        }
        u32 top = row[rank], inv = inverse(m[top][c]);
        det = mulmod(det, m[top][c]);
        for (u32 r = rank + 1; r < n; r++) {
            u32 below = row[r], f = mulmod(m[below][c], inv);
            for (u32 j = c; j < n; j++)
                m[below][j] = (m[below][j] + P - mulmod(f, m[top][j])) % P;
        }
        rank++;
    }
    return (u64)rank << 32 | det;
}
