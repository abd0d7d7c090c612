/* IPv6 addresses in text, one a line: up to eight groups of one to four hex digits
 * separated by colons, one "::" standing for the run of zero groups it hides.  Groups
 * go into an eight-entry array on the stack as they are read; at the end of a line the
 * ones read after "::" move to the back, from the last down, and the hidden ones are
 * zeroed on the way, as inet_pton does.  Returns a hash of the addresses and the count
 * of lines that are not one. */
#include "corpus.h"

PROGRAM
{
    u64 hash = 0, bad = 0, good = 0;
    u64 i = 0;
    if (len > 8192)
        len = 8192;
    while (i < len) {
        u16 g[8];
        for (int k = 0; k < 8; k++)
            g[k] = 0;
        int n = 0, gap = -1, digits = 0, ok = 1, need_digit = 0;
        u32 cur = 0;
        for (; i < len && mem[i] != '\n'; i++) {
            u8 c = mem[i], lower = c | 0x20;
            u32 v;
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (lower >= 'a' && lower <= 'f')
                v = lower - 'a' + 10;
            else if (c == ':') {
                int had = digits;
                if (digits) {
                    if (n == 8) {
                        ok = 0;
                        break;
                    }
                    g[n++] = (u16)cur;
                    cur = 0;
                    digits = 0;
                }
                if (i + 1 < len && mem[i + 1] == ':') {
                    if (gap >= 0) {         /* a second "::" */
                        ok = 0;
                        break;
                    }
                    gap = n;
                    i++;
                    need_digit = 0;
                } else if (!had) {
                    ok = 0;                 /* an empty group, a leading or a third ':' */
                    break;
                } else {
                    need_digit = 1;
                }
                continue;
            } else {
                ok = 0;
                break;
            }
            if (digits == 4) {
                ok = 0;
                break;
            }
            cur = cur << 4 | v;
            digits++;
            need_digit = 0;
        }
        if (ok && digits) {
            if (n == 8)
                ok = 0;
            else
                g[n++] = (u16)cur;
        }
        if (need_digit || (gap < 0 && n != 8) || (gap >= 0 && n > 7))
            ok = 0;
        if (ok) {
            if (gap >= 0) {
                int hidden = 8 - n;
                for (int k = 7; k >= gap; k--)
                    g[k] = k - hidden >= gap ? g[k - hidden] : 0;
            }
            for (int k = 0; k < 8; k++)
                hash = (hash ^ g[k]) * 0x100000001b3ull;
            good++;
        } else {
            bad++;
        }
        while (i < len && mem[i] != '\n')
            i++;
        i++;
    }
    return hash ^ good << 48 ^ bad << 32;
}
