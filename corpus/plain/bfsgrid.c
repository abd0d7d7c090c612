/* Breadth-first search on a 12 x 12 grid: cell k is a wall when input byte k is odd
 * (cells past the input are open).  A queue of cell numbers on the stack, a distance
 * byte per cell (255 unvisited); neighbours are found from the cell's row and column
 * (c / 12, c % 12), every cell number read back from the queue.  Returns how many cells
 * were reached, the farthest distance and a hash of the distances. */
#include "corpus.h"

#define SIDE 12
#define CELLS (SIDE * SIDE)

PROGRAM
{
    u8 wall[CELLS], dist[CELLS];
    u8 queue[CELLS];
    for (u32 k = 0; k < CELLS; k++) {
        wall[k] = k < len ? mem[k] & 1 : 0;
        dist[k] = 255;
    }
    if (wall[0])
        return 0;
    u32 head = 0, tail = 0;
    queue[tail++] = 0;
    dist[0] = 0;
    u32 far = 0;
    while (head < tail) {
        u32 c = queue[head++];
        u32 row = c / SIDE, col = c % SIDE;
        u32 d = dist[c] + 1;
        int next[4] = {-1, -1, -1, -1};
        if (row > 0)
            next[0] = c - SIDE;
        if (row < SIDE - 1)
            next[1] = c + SIDE;
        if (col > 0)
            next[2] = c - 1;
        if (col < SIDE - 1)
            next[3] = c + 1;
        for (int k = 0; k < 4; k++) {
            int n = next[k];
            if (n < 0 || wall[n] || dist[n] != 255)
                continue;
            dist[n] = d;
            if (d > far)
                far = d;
            queue[tail++] = n;
        }
    }
    u64 h = 0;
    for (u32 k = 0; k < CELLS; k++)
        h = h * 31 + dist[k];
    return (u64)tail << 40 | (u64)far << 32 | (h & 0xffffffff);
}
