/* Calendar dates: each line of the input is "YYYY-MM-DD" (other lines are skipped); a
 * valid date becomes a day number (days from civil, the era-based algorithm, counted
 * from 0000-03-01 so that every quantity is unsigned), its weekday and its day of the
 * year, with the month lengths and the days before each month in constant tables
 * (read-only data, not the stack).  Returns a hash of the day numbers, the count of
 * valid dates and a fold of the weekdays' histogram. */
#include "corpus.h"

static const u8 month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
static const u16 days_before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

static inline int leap(u32 y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* days since 0000-03-01 of a date in years 1 to 9999 (so no quantity is negative) */
static inline u64 days_from_civil(u32 y, u32 m, u32 d)
{
    y -= m <= 2;
    u32 era = y / 400;
    u32 yoe = y - era * 400;
    u32 doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    u32 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (u64)era * 146097 + doe;
}

PROGRAM
{
    u64 h = 0, valid = 0;
    u32 weekdays[7] = {0};
    u64 at = 0;
    while (at + 10 <= len) {
        const u8 *s = mem + at;
        u32 y = 0, m = 0, d = 0, ok = s[4] == '-' && s[7] == '-';
        for (int k = 0; k < 10; k++) {
            if (k == 4 || k == 7)
                continue;
            u32 c = s[k] - '0';
            if (c > 9)
                ok = 0;
            if (k < 4)
                y = y * 10 + c;
            else if (k < 7)
                m = m * 10 + c;
            else
                d = d * 10 + c;
        }
        if (ok && y >= 1 && m >= 1 && m <= 12 && d >= 1) {
            u32 last = month_days[m - 1] + (m == 2 && leap(y));
            if (d <= last) {
                u64 n = days_from_civil(y, m, d);
                u32 wd = (u32)((n + 3) % 7);            /* 0000-03-01: a Wednesday */
                u32 yday = days_before[m - 1] + (m > 2 && leap(y)) + d;
                weekdays[wd]++;
                h = (h ^ (u64)n) * 0x100000001b3ull + yday;
                valid++;
            }
        }
        at += 10;
        while (at < len && mem[at] != '\n')
            at++;
        at++;
    }
    u64 fold = 0;
    for (int k = 0; k < 7; k++)
        fold = fold * 1000003 + weekdays[k];
    return h ^ valid << 56 ^ fold;
}
