/* Fixed-point CORDIC (Q16): each pair of input bytes is an angle in [-pi/2, pi/2];
 * sixteen rotations by atan(2^-i) from a constant table give its cosine and sine;
 * returns a sum of both over all angles. */
#include "corpus.h"

static const s32 atan_q16[16] = {
    51472, 30386, 16055, 8150, 4091, 2047, 1024, 512,
    256, 128, 64, 32, 16, 8, 4, 2,
};

PROGRAM
{
    s64 acc = 0;
    for (u64 p = 0; p + 1 < len && p < 2000; p += 2) {
        s32 angle = (s32)(((u64)(mem[p] | mem[p + 1] << 8) * 205887) >> 16) - 102943;
        s32 x = 39797, y = 0, z = angle;
        for (int i = 0; i < 16; i++) {
            s32 dx = y >> i, dy = x >> i;
            if (z >= 0) {
                x -= dx; y += dy; z -= atan_q16[i];
            } else {
                x += dx; y -= dy; z += atan_q16[i];
            }
        }
        acc += x * 3 + y;
    }
    return (u64)acc;
}
