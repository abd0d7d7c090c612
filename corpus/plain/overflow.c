/* Checked arithmetic as careful C writes it: 32-bit unsigned values from the input are
 * summed and multiplied with __builtin_add_overflow and __builtin_mul_overflow, a
 * running 16-bit signed balance with __builtin_sub_overflow, and a noinline function
 * takes a pointer to a struct of limits on the caller's stack (BPF passes no struct
 * by value) and clamps each value to it.  Returns a fold of the results and how often each overflowed. */
#include "corpus.h"

struct limits {
    u32 low, high;
    s16 floor, ceiling;
};

HELPER u32 clamp(const struct limits *lim, u32 v)
{
    if (v < lim->low)
        return lim->low;
    if (v > lim->high)
        return lim->high;
    return v;
}

PROGRAM
{
    struct limits lim = {100, 4000000000u, -30000, 30000};
    u32 sum = 0, product = 1;
    s16 balance = 0;
    u64 add_over = 0, mul_over = 0, sub_over = 0, h = 0;
    for (u64 at = 0; at + 4 <= len; at += 4) {
        u32 v = clamp(&lim, get_le32(mem + at));
        if (__builtin_add_overflow(sum, v, &sum)) {
            add_over++;
            sum = v;
        }
        if (__builtin_mul_overflow(product, (v & 0xff) | 1, &product)) {
            mul_over++;
            product = 1;
        }
        s16 step = (s16)(v >> 16);
        s16 next;
        if (__builtin_sub_overflow(balance, step, &next) || next < lim.floor ||
            next > lim.ceiling) {
            sub_over++;
            next = 0;
        }
        balance = next;
        h = (h ^ sum ^ (u64)product << 32) * 0x100000001b3ull;
    }
    return h ^ add_over << 48 ^ mul_over << 40 ^ sub_over << 32 ^ (u16)balance;
}
