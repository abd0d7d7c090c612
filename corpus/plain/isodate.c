/* ISO-8601 timestamps, one a line ("YYYY-MM-DDThh:mm:ss", a 'Z' allowed after):
 * fixed-position digits read through a helper that reports a non-digit, then checked
 * ranges, the day against a month-length table in .rodata indexed by the month once
 * it is known to be 1..12 (and February's leap day).  Valid lines become seconds since
 * 1970 by a days-from-civil count; the rest are counted.  Returns the sum and the
 * spread of the valid times and the bad-line count. */
#include "corpus.h"

static const u8 month_days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

static inline int digits(const u8 *p, int n)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (p[k] < '0' || p[k] > '9')
            return -1;
        v = v * 10 + (p[k] - '0');
    }
    return v;
}

PROGRAM
{
    u64 sum = 0, lo = ~0ull, hi = 0, bad = 0;
    u64 i = 0;
    if (len > 8192)
        len = 8192;
    while (i < len) {
        u64 end = i;
        while (end < len && mem[end] != '\n')
            end++;
        u64 n = end - i;
        const u8 *p = mem + i;
        int ok = (n == 19 || (n == 20 && p[19] == 'Z')) && p[4] == '-' && p[7] == '-' &&
                 p[10] == 'T' && p[13] == ':' && p[16] == ':';
        int y = ok ? digits(p, 4) : -1, mo = ok ? digits(p + 5, 2) : -1,
            d = ok ? digits(p + 8, 2) : -1, h = ok ? digits(p + 11, 2) : -1,
            mi = ok ? digits(p + 14, 2) : -1, s = ok ? digits(p + 17, 2) : -1;
        if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 ||
            mi > 59 || s < 0 || s > 59) {
            bad++;
        } else {
            u32 uy = y;
            int leap = (uy % 4 == 0 && uy % 100 != 0) || uy % 400 == 0;
            int last = month_days[mo - 1] + (mo == 2 && leap);
            if (d > last) {
                bad++;
            } else {
                /* days from civil (Howard Hinnant's), years from 1970 on only */
                u32 yy = uy - (mo <= 2), era = yy / 400, yoe = yy - era * 400;
                u32 mp = mo > 2 ? mo - 3 : mo + 9;
                u32 doy = (153 * mp + 2) / 5 + d - 1;
                u32 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
                u64 days = (u64)era * 146097 + doe - 719468;
                u64 t = days * 86400 + h * 3600 + mi * 60 + s;
                sum += t;
                lo = t < lo ? t : lo;
                hi = t > hi ? t : hi;
            }
        }
        i = end + 1;
    }
    return sum ^ (hi - lo) << 20 ^ bad << 56;
}
