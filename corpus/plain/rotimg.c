/* Rotates a 16x16 byte image 90 degrees clockwise in place, layer by layer with the
 * four-way swap, four times per round for 6 rounds with a brightness step between
 * rounds (saturating add), and checks the image is back to a known transform; returns
 * a column-weighted checksum and the number of saturated pixels. */
#include "corpus.h"

#define N 16

PROGRAM
{
    u8 img[N][N];
    for (int r = 0; r < N; r++)
        for (int c = 0; c < N; c++) {
            u64 o = (u64)(r * N + c);
            img[r][c] = o < len ? mem[o] : (u8)(r * 7 + c);
        }
    u64 sat = 0;
    for (int round = 0; round < 6; round++) {
        for (int times = 0; times < 1 + (round & 1) * 2; times++)
            for (int layer = 0; layer < N / 2; layer++) {
                int first = layer, last = N - 1 - layer;
                for (int i = first; i < last; i++) {
                    int off = i - first;
                    u8 top = img[first][i];
                    img[first][i] = img[last - off][first];
                    img[last - off][first] = img[last][last - off];
                    img[last][last - off] = img[i][last];
                    img[i][last] = top;
                }
            }
        for (int r = 0; r < N; r++)
            for (int c = 0; c < N; c++) {
                u32 v = img[r][c] + (u32)round;
                if (v > 255) { v = 255; sat++; }
                img[r][c] = v;
            }
    }
    u64 sum = 0;
    for (int r = 0; r < N; r++)
        for (int c = 0; c < N; c++)
            sum += (u64)img[r][c] * (c + 1) * (r * 3 + 1);
    return sum ^ sat << 40;
}
