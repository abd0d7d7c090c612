/* Duff's device: a byte-wise checksum whose loop, unrolled eight times, is entered in
 * the middle through a switch on the count modulo 8 (a loop with several entries);
 * each block of the input up to a zero byte is summed this way. */
#include "corpus.h"

static inline u64 sum(const u8 *p, u32 n, u64 s)
{
    if (n == 0)
        return s;
    u32 rounds = (n + 7) / 8;
    switch (n % 8) {
    case 0: do { s = s * 31 + *p++;
    case 7:      s = s * 31 + *p++;
    case 6:      s = s * 31 + *p++;
    case 5:      s = s * 31 + *p++;
    case 4:      s = s * 31 + *p++;
    case 3:      s = s * 31 + *p++;
    case 2:      s = s * 31 + *p++;
    case 1:      s = s * 31 + *p++;
            } while (--rounds > 0);
    }
    return s;
}

PROGRAM
{
    u64 s = 0, off = 0;
    while (off < len && off < 16384) {
        u32 n = 0;
        while (off + n < len && n < 255 && mem[off + n] != 0)
            n++;
        s = sum(mem + off, n, s) ^ n;
        off += n + 1;
    }
    return s;
}
