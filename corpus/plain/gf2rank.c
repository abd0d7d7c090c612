/* Ranks over GF(2): every 128 bytes of the input are 32 rows of a 32x32 bit matrix
 * (u32 little-endian), reduced by Gaussian elimination in a stack array: for each
 * column, the first row at or below the pivot row with that bit is swapped up and
 * xored out of every other row that has it.  Returns a fold of the ranks and of the
 * reduced rows. */
#include "corpus.h"

#define ROWS 32

PROGRAM
{
    u64 h = 0;
    for (u64 base = 0; base + 4 * ROWS <= len && base < 16384; base += 4 * ROWS) {
        u32 m[ROWS];
        for (u32 r = 0; r < ROWS; r++)
            m[r] = get_le32(mem + base + 4 * r);
        u32 rank = 0;
        for (u32 col = 0; col < 32 && rank < ROWS; col++) {
            u32 bit = 1u << col, pivot = ROWS;
            for (u32 r = rank; r < ROWS; r++)
                if (m[r] & bit) {
                    pivot = r;
                    break;
                }
            if (pivot == ROWS)
                continue;
            u32 t = m[pivot];
            m[pivot] = m[rank];
            m[rank] = t;
            for (u32 r = 0; r < ROWS; r++)
                if (r != rank && (m[r] & bit))
                    m[r] ^= t;
            rank++;
        }
        h = h * 33 + rank;
        for (u32 r = 0; r < rank; r++)
            h = (h ^ m[r]) * 0x100000001b3ull;
    }
    return h;
}
