/* Depth-first search without recursion: a 10 x 10 maze (input byte k odd: a wall)
 * explored from the top left with an explicit stack of (cell, next direction) pairs in
 * two stack arrays; a cell is pushed once (a visited byte per cell), its four
 * directions tried in turn on each return to it.  Counts the cells reached, the
 * deepest stack and whether the bottom right was reached. */
#include "corpus.h"

#define SIDE 10
#define CELLS (SIDE * SIDE)

PROGRAM
{
    u8 visited[CELLS], cell[CELLS], dir[CELLS];
    for (int k = 0; k < CELLS; k++)
        visited[k] = k < len ? mem[k] & 1 : 0;     /* walls count as visited */
    if (visited[0])
        return 0;
    int top = 0;
    u32 reached = 1, deepest = 1;
    cell[0] = 0;
    dir[0] = 0;
    visited[0] = 1;
    while (top >= 0) {
        u32 c = cell[top];
        u32 d = dir[top]++;
        if (d >= 4) {
            top--;
            continue;
        }
        int r = c / SIDE, col = c % SIDE;
        int nr = r + (d == 1) - (d == 0), nc = col + (d == 3) - (d == 2);
        if (nr < 0 || nr >= SIDE || nc < 0 || nc >= SIDE)
            continue;
        u32 n = nr * SIDE + nc;
        if (visited[n])
            continue;
        visited[n] = 1;
        reached++;
        top++;
        cell[top] = n;
        dir[top] = 0;
        if (top + 1 > (int)deepest)
            deepest = top + 1;
    }
    return (u64)reached << 32 | deepest << 1 | visited[CELLS - 1];
}
