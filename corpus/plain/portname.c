/* Port numbers to service classes by binary search in a sorted constant table of
 * structs (read-only data): each 2-byte big-endian port of the input is looked up
 * (an exact match gives its class, otherwise the class of the range below it), and
 * the classes are counted.  Returns a fold of the counts and of the matched ports. */
#include "corpus.h"

struct service {
    u16 port;
    u8 class;
    u8 exact;
};

static const struct service services[] = {
    {20, 1, 1}, {21, 1, 1}, {22, 2, 1}, {23, 2, 1}, {25, 3, 1}, {53, 4, 1},
    {67, 4, 1}, {80, 5, 1}, {110, 3, 1}, {123, 4, 1}, {143, 3, 1}, {161, 6, 1},
    {179, 6, 1}, {443, 5, 1}, {465, 3, 1}, {514, 6, 1}, {587, 3, 1}, {993, 3, 1},
    {1024, 7, 0}, {3306, 8, 1}, {5432, 8, 1}, {6379, 8, 1}, {8080, 5, 1},
    {8443, 5, 1}, {9000, 7, 0}, {27017, 8, 1}, {49152, 9, 0},
};

#define COUNT (sizeof services / sizeof services[0])

PROGRAM
{
    u32 counts[10] = {0};
    u64 matched = 0;
    for (u64 at = 0; at + 2 <= len; at += 2) {
        u16 port = (u16)(mem[at] << 8 | mem[at + 1]);
        u32 lo = 0, hi = COUNT;
        while (lo < hi) {               /* the first entry above port */
            u32 mid = (lo + hi) / 2;
            if (services[mid].port <= port)
                lo = mid + 1;
            else
                hi = mid;
        }
        u32 class = 0;
        if (lo > 0) {
            const struct service *s = &services[lo - 1];
            if (s->port == port) {
                class = s->class;
                matched = matched * 31 + port;
            } else if (!s->exact) {
                class = s->class;
            }
        }
        counts[class]++;
    }
    u64 h = matched;
    for (int c = 0; c < 10; c++)
        h = h * 1000003 + counts[c];
    return h;
}
