/* Interval sweeps: every 4 bytes of the input are an interval (a u16 start, then a
 * u8 length and a u8 weight), taken 24 at a time into an array of structs on the
 * stack, insertion-sorted by start, then merged where they overlap or touch; each
 * batch folds in the merged intervals, their total length and the largest weight
 * summed over any one merged run. */
#include "corpus.h"

#define BATCH 24

struct span {
    u16 start, end;
    u16 weight, pad;
};

PROGRAM
{
    u64 h = 0;
    for (u64 base = 0; base + 4 <= len && base < 8192; base += 4 * BATCH) {
        struct span s[BATCH];
        u32 n = 0;
        for (u64 i = base; i + 4 <= len && n < BATCH; i += 4) {
            u32 start = mem[i] | mem[i + 1] << 8;
            struct span x = {start, start + mem[i + 2], mem[i + 3], 0};
            u32 j = n++;
            while (j > 0 && s[j - 1].start > x.start) {
                s[j] = s[j - 1];
                j--;
            }
            s[j] = x;
        }
        u32 cur_start = s[0].start, cur_end = s[0].end, weight = s[0].weight;
        u32 total = 0, heaviest = 0, runs = 0;
        for (u32 k = 1; k <= n; k++) {
            if (k < n && s[k].start <= cur_end) {
                if (s[k].end > cur_end)
                    cur_end = s[k].end;
                weight += s[k].weight;
                continue;
            }
            runs++;
            total += cur_end - cur_start;
            if (weight > heaviest)
                heaviest = weight;
            h = h * 131 + cur_start * 7 + cur_end;
            if (k < n) {
                cur_start = s[k].start;
                cur_end = s[k].end;
                weight = s[k].weight;
            }
        }
        h = h * 31 + ((u64)runs << 40 ^ (u64)total << 16 ^ heaviest);
    }
    return h;
}
