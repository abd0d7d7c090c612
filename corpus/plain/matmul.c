/* Nested loops over two-dimensional stack arrays: two 8x8 matrices of small signed
 * integers read from the buffer, and a checksum of their product. */
#include "corpus.h"

#define N 8

PROGRAM
{
    s16 a[N][N], b[N][N];
    if (len < 2 * N * N)
        return 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (s8)mem[i * N + j];
            b[i][j] = (s8)mem[N * N + i * N + j];
        }
    u64 h = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            s32 sum = 0;
            for (int k = 0; k < N; k++)
                sum += a[i][k] * b[k][j];
            h = h * 1000003 + (u32)sum;
        }
    return h;
}
