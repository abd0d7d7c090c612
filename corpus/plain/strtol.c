/* strtoull by hand over whitespace-separated tokens: an optional sign, a "0x" or "0b"
 * prefix or a leading 0 (octal) choosing the base, digits of that base; a value past
 * 2^64 - 1 saturates as strtoull's ERANGE does, checked before each step against the
 * limit's quotient and remainder by the base (a divisor in a register), as C libraries
 * do.  A token with a stray character counts as bad and is skipped to its end.  Returns
 * a hash of the values and the counts of overflows and bad tokens. */
#include "corpus.h"

#define LIMIT 0xffffffffffffffffull

static inline int digit_of(u8 c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    return 99;
}

PROGRAM
{
    u64 hash = 0, over = 0, bad = 0;
    u64 i = 0;
    while (i < len) {
        while (i < len && (mem[i] == ' ' || mem[i] == '\n' || mem[i] == '\t'))
            i++;
        if (i >= len)
            break;
        int negative = 0;
        if (mem[i] == '-' || mem[i] == '+') {
            negative = mem[i] == '-';
            i++;
        }
        u32 base = 10;
        if (i + 1 < len && mem[i] == '0' && (mem[i + 1] | 0x20) == 'x') {
            base = 16;
            i += 2;
        } else if (i + 1 < len && mem[i] == '0' && (mem[i + 1] | 0x20) == 'b') {
            base = 2;
            i += 2;
        } else if (i < len && mem[i] == '0') {
            base = 8;
        }
        u64 value = 0;
        u32 digits = 0;
        int overflowed = 0, stray = 0;
        u64 room = LIMIT / base, spare = LIMIT % base;
        for (; i < len && mem[i] != ' ' && mem[i] != '\n' && mem[i] != '\t'; i++) {
            u32 d = digit_of(mem[i]);
            if (d >= base) {
                stray = 1;
                continue;
            }
            digits++;
            if (overflowed)
                continue;
            if (value > room || (value == room && d > spare)) {
                overflowed = 1;
                value = LIMIT;
                continue;
            }
            value = value * base + d;
        }
        if (stray || digits == 0) {
            bad++;
            continue;
        }
        over += overflowed;
        if (negative)
            value = -value;
        hash = (hash ^ value) * 0x100000001b3ull;
    }
    return hash ^ over << 56 ^ bad << 40;
}
