/* Circular buffers with masked indices: a 32-sample moving sum of 16-bit samples and
 * a 16x16 histogram (8-bit counters) of (high nibble, low nibble) of each sample's low byte. */
#include "corpus.h"

#define WINDOW 32

PROGRAM
{
    u16 ring[WINDOW];
    u8 hist[16][16];
    __builtin_memset(ring, 0, sizeof(ring));
    __builtin_memset(hist, 0, sizeof(hist));
    u32 head = 0;
    u64 sum = 0, peak = 0;
    u64 samples = len / 2;
    for (u64 i = 0; i < samples; i++) {
        u16 v = mem[2 * i] | mem[2 * i + 1] << 8;
        sum -= ring[head & (WINDOW - 1)];
        ring[head & (WINDOW - 1)] = v;
        sum += v;
        head++;
        if (sum > peak)
            peak = sum;
        hist[(v >> 4) & 15][v & 15]++;
    }
    u64 h = peak << 20 ^ head;
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++)
            h = h * 3 + hist[r][c];
    return h;
}
