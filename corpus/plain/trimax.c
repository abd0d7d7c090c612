/* The maximum path sum down a number triangle of 20 rows (row r has r+1 entries, taken
 * from the input bytes in order), computed bottom-up in place in a flat array with
 * row starts r*(r+1)/2; returns the best sum and how many ties were met. */
#include "corpus.h"

#define ROWS 20
#define CELLS (ROWS * (ROWS + 1) / 2)

PROGRAM
{
    u16 v[CELLS];
    for (int i = 0; i < CELLS; i++)
        v[i] = (u64)i < len ? mem[i] : (u8)(i * 37);
    u32 ties = 0;
    for (u32 r = ROWS - 1; r-- > 0;) {
        u32 row = r * (r + 1) / 2, below = (r + 1) * (r + 2) / 2;
        for (u32 c = 0; c <= r; c++) {
            u16 a = v[below + c], b = v[below + c + 1];
            if (a == b) ties++;
            v[row + c] += a > b ? a : b;
        }
    }
    return (u64)v[0] << 32 | ties;
}
