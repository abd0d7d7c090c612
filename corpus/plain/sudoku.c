/* Sudoku grids of 81 characters ('1'-'9', anything else empty): each is checked for
 * a digit twice in a row, column or box (bit masks per unit, the box's index from
 * divisions by 3 and 9), then cells with a single candidate are filled, round after
 * round, until none is left.  Returns a hash of the grids as filled and the counts. */
#include "corpus.h"

PROGRAM
{
    u64 h = 0;
    u32 grids = 0;
    for (u64 base = 0; base + 81 <= len && grids < 64; base += 81, grids++) {
        u8 cell[81];
        u16 rows[9], cols[9], boxes[9];
        for (u32 i = 0; i < 9; i++)
            rows[i] = cols[i] = boxes[i] = 0;
        u32 clashes = 0, filled = 0;
        for (u32 i = 0; i < 81; i++) {
            u8 c = mem[base + i];
            u32 digit = c >= '1' && c <= '9' ? c - '0' : 0;
            cell[i] = digit;
            if (!digit)
                continue;
            u32 r = i / 9, col = i % 9, box = r / 3 * 3 + col / 3;
            u16 bit = 1 << digit;
            if ((rows[r] | cols[col] | boxes[box]) & bit)
                clashes++;
            rows[r] |= bit;
            cols[col] |= bit;
            boxes[box] |= bit;
            filled++;
        }
        for (u32 round = 0; round < 16 && !clashes; round++) {
            u32 changed = 0;
            for (u32 i = 0; i < 81; i++) {
                if (cell[i])
                    continue;
                u32 r = i / 9, col = i % 9, box = r / 3 * 3 + col / 3;
                u16 open = ~(rows[r] | cols[col] | boxes[box]) & 0x3fe;
                if (open && !(open & (open - 1))) {
                    u32 digit = 1;
                    while (!(open >> digit & 1))
                        digit++;
                    cell[i] = digit;
                    rows[r] |= open;
                    cols[col] |= open;
                    boxes[box] |= open;
                    filled++;
                    changed++;
                }
            }
            if (!changed)
                break;
        }
        for (u32 i = 0; i < 81; i++)
            h = h * 11 + cell[i];
        h ^= (u64)clashes << 56 | (u64)filled << 48;
    }
    return h ^ grids;
}
