/* Base64 decoding with a 256-entry table in read-only data: four input characters
 * become three bytes on a stack buffer of at most 192 bytes, which is then hashed. */
#include "corpus.h"

static const s8 decode_table[256] = {
    ['A'] = 0, ['B'] = 1, ['C'] = 2, ['D'] = 3, ['E'] = 4, ['F'] = 5, ['G'] = 6,
    ['H'] = 7, ['I'] = 8, ['J'] = 9, ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13,
    ['O'] = 14, ['P'] = 15, ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20,
    ['V'] = 21, ['W'] = 22, ['X'] = 23, ['Y'] = 24, ['Z'] = 25,
    ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31, ['g'] = 32,
    ['h'] = 33, ['i'] = 34, ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39,
    ['o'] = 40, ['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46,
    ['v'] = 47, ['w'] = 48, ['x'] = 49, ['y'] = 50, ['z'] = 51,
    ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55, ['4'] = 56, ['5'] = 57, ['6'] = 58,
    ['7'] = 59, ['8'] = 60, ['9'] = 61, ['+'] = 62, ['/'] = 63,
};

static inline int value_of(u8 c)
{
    if (c == 'A')
        return 0;
    return decode_table[c] ? decode_table[c] : -1;
}

PROGRAM
{
    u8 out[192];
    u32 n = 0;
    u64 i;
    for (i = 0; i + 4 <= len && n + 3 <= sizeof(out); i += 4) {
        int a = value_of(mem[i]), b = value_of(mem[i + 1]);
        int c = value_of(mem[i + 2]), d = value_of(mem[i + 3]);
        if ((a | b | c | d) < 0)
            break;
        u32 triple = a << 18 | b << 12 | c << 6 | d;
        out[n++] = triple >> 16;
        out[n++] = triple >> 8;
        out[n++] = triple;
    }
    u64 h = 14695981039346656037ULL;
    for (u32 k = 0; k < n; k++)
        h = (h ^ out[k]) * 1099511628211ULL;
    return h ^ i << 56;
}
