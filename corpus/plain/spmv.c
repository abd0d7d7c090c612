/* A sparse matrix in compressed rows times a vector, as solvers store one: a row
 * count and a nonzero count, then row starts (u8, one per row and the end), column
 * indices (u8) and values (s8), then the vector (s8, 32 entries); every index is
 * checked against its table before use.  Returns a hash of the product and the
 * number of rejected entries. */
#include "corpus.h"

#define ROWS 32
#define NNZ 128
#define COLS 32

PROGRAM
{
    if (len < 2)
        return 0;
    u32 rows = mem[0] % ROWS + 1, nnz = mem[1] % NNZ + 1;
    u64 starts = 2, cols = starts + rows + 1, vals = cols + nnz, vec = vals + nnz;
    if (vec + COLS > len)
        return 1;
    u64 h = 0, bad = 0;
    for (u32 r = 0; r < rows; r++) {
        u32 from = mem[starts + r], to = mem[starts + r + 1];
        if (to > nnz)
            to = nnz;
        s64 sum = 0;
        for (u32 k = from; k < to; k++) {
            u32 c = mem[cols + k];
            if (c >= COLS) {
                bad++;
                continue;
            }
            sum += (s64)(s8)mem[vals + k] * (s8)mem[vec + c];
        }
        h = h * 0x100000001b3ull ^ (u64)sum;
    }
    return h ^ bad << 56;
}
