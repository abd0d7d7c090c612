/* A fixed-point signal chain over signed 16-bit samples (little-endian pairs of input
 * bytes): a one-pole low-pass filter in Q15 with an exponential moving average, a
 * DC blocker, soft clipping by a cubic on the range [-1, 1] and saturation back to
 * int16, all in signed arithmetic (arithmetic shifts, signed compares).  Returns a hash
 * of the output samples and the number that saturated. */
#include "corpus.h"

#define Q 15
#define ONE (1 << Q)

static inline s32 saturate16(s64 v)
{
    if (v > 32767)
        return 32767;
    if (v < -32768)
        return -32768;
    return (s32)v;
}

PROGRAM
{
    s64 lp = 0, prev_in = 0, prev_out = 0;
    u64 h = 0, clipped = 0;
    const s32 alpha = ONE / 8;          /* the low-pass's weight of a new sample */
    const s32 r = (ONE * 995) / 1000;   /* the DC blocker's pole */
    for (u64 at = 0; at + 1 < len; at += 2) {
        s32 x = (s16)(mem[at] | mem[at + 1] << 8);
        lp += ((s64)(x - (s32)(lp >> Q)) * alpha);
        s64 y = lp >> Q;
        s64 dc = y - prev_in + ((prev_out * r) >> Q);
        prev_in = y;
        prev_out = dc;
        /* soft clip: with t = dc / 2^15 in [-1, 1], t - t^3 / 3 */
        s64 t = dc;
        if (t > ONE)
            t = ONE;
        if (t < -ONE)
            t = -ONE;
        s64 t3 = ((t * t) >> Q) * t >> Q;
        s64 soft = t - ((t3 * 10923) >> Q);       /* t^3 / 3, as a Q15 multiply */
        s32 out = saturate16(soft * 2);
        clipped += out == 32767 || out == -32768;
        h = (h ^ (u16)out) * 0x100000001b3ull;
    }
    return h ^ clipped << 48;
}
