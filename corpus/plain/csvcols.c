/* Comma-separated records, one per line: the offsets of up to 8 fields of a line are
 * recorded in a u16 array on the stack as the line is scanned, then fields 1 and 3
 * (if present) are parsed as decimal numbers from their recorded offsets, up to the
 * next comma or the line's end; a missing field counts as 0.  Returns the sums of
 * both columns and the number of lines. */
#include "corpus.h"

#define MAXFIELDS 8

static u32 number_at(const u8 *mem, u64 at, u64 end)
{
    u32 v = 0;
    while (at < end && mem[at] >= '0' && mem[at] <= '9') {
        v = v * 10 + (mem[at] - '0');
        at++;
    }
    return v;
}

PROGRAM
{
    u16 start[MAXFIELDS + 1];
    u64 sum1 = 0, sum3 = 0, lines = 0;
    u64 n = len < 16384 ? len : 16384;
    u64 at = 0;
    while (at < n) {
        u32 fields = 1;
        start[0] = at;
        u64 end = at;
        while (end < n && mem[end] != '\n') {
            if (mem[end] == ',' && fields < MAXFIELDS)
                start[fields++] = end + 1;
            end++;
        }
        start[fields] = end + 1;            /* one past the last field's end */
        if (fields > 1)
            sum1 += number_at(mem, start[1], start[2] - 1);
        if (fields > 3)
            sum3 += number_at(mem, start[3], start[4] - 1);
        lines++;
        at = end + 1;
    }
    return sum1 << 40 ^ sum3 << 16 ^ lines;
}
