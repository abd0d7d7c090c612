/* Signed 16-bit samples (little-endian) through a fixed-point one-pole low-pass filter
 * in Q15 with saturation, then a running peak and a zero-crossing count: arithmetic
 * right shifts, sign extension of loads and clamps at both ends. */
#include "corpus.h"

static inline s32 clamp16(s32 x)
{
    return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

PROGRAM
{
    s32 y = 0, prev = 0, peak = 0;
    u64 crossings = 0;
    s64 energy = 0;
    for (u64 i = 0; i + 2 <= len; i += 2) {
        s16 x = (s16)(mem[i] | mem[i + 1] << 8);
        s32 acc = y + (((s32)x - y) * 9830 >> 15);     /* alpha = 0.3 */
        y = clamp16(acc + (x >> 3));
        if ((y < 0) != (prev < 0))
            crossings++;
        s32 mag = y < 0 ? -y : y;
        if (mag > peak)
            peak = mag;
        energy += (s64)y * y >> 4;
        prev = y;
    }
    return (u64)energy ^ (u64)peak << 40 ^ crossings << 56;
}
