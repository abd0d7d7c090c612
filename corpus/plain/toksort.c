/* Words of the input (runs of letters) kept as (offset, length) slices, at most 48,
 * then sorted by a Shell sort comparing the words through their slices (bytewise,
 * a prefix first); returns a hash of the sorted order and the count. */
#include "corpus.h"

#define MAXW 48

static inline int letter(u8 c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int compare(const u8 *mem, u16 a, u8 alen, u16 b, u8 blen)
{
    u8 n = alen < blen ? alen : blen;
    for (u8 i = 0; i < n; i++) {
        u8 x = mem[a + i], y = mem[b + i];
        if (x != y)
            return x < y ? -1 : 1;
    }
    return alen < blen ? -1 : alen > blen;
}

PROGRAM
{
    u16 start[MAXW];
    u8 length[MAXW];
    u32 words = 0;
    if (len > 60000)
        len = 60000;
    for (u64 i = 0; i < len && words < MAXW;) {
        if (!letter(mem[i])) {
            i++;
            continue;
        }
        u64 j = i;
        while (j < len && j - i < 255 && letter(mem[j]))
            j++;
        start[words] = i;
        length[words] = j - i;
        words++;
        i = j;
    }
    for (u32 gap = words / 2; gap > 0; gap /= 2)
        for (u32 i = gap; i < words; i++) {
            u16 s = start[i];
            u8 l = length[i];
            u32 j = i;
            while (j >= gap && compare(mem, start[j - gap], length[j - gap], s, l) > 0) {
                start[j] = start[j - gap];
                length[j] = length[j - gap];
                j -= gap;
            }
            start[j] = s;
            length[j] = l;
        }
    u64 h = words;
    for (u32 i = 0; i < words; i++)
        h = h * 131 + start[i] * 7 + length[i];
    return h;
}
