/* Shortest paths by Dijkstra's algorithm on a dense graph of up to 16 nodes: the first
 * byte is the node count, then a row of edge weights per node (0: no edge), in an
 * adjacency matrix on the stack; each round picks the nearest unfinished node by a
 * scan that starts from "none" (-1), as textbook C writes it, and relaxes its edges.
 * Returns a hash of the distances from node 0 and how many nodes were reached. */
#include "corpus.h"

#define MAXN 16
#define INF 0xffffffffu

PROGRAM
{
    if (len < 1)
        return 0;
    int n = mem[0] % (MAXN + 1);
    if (n == 0 || 1 + (u64)n * n > len)
        return 0;
    u8 w[MAXN][MAXN];
    u32 dist[MAXN];
    u8 done[MAXN];
    for (int i = 0; i < MAXN; i++) {
        dist[i] = INF;
        done[i] = 0;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            w[i][j] = mem[1 + i * n + j];
    dist[0] = 0;
    int reached = 0;
    for (int round = 0; round < n; round++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!done[i] && dist[i] != INF && (best < 0 || dist[i] < dist[best]))
                best = i;
        if (best < 0)
            break;
        done[best] = 1;
        reached++;
        for (int j = 0; j < n; j++) {
            u32 c = w[best][j];
            if (c && !done[j] && dist[best] + c < dist[j])
                dist[j] = dist[best] + c;
        }
    }
    u64 h = 0;
    for (int i = 0; i < n; i++)
        h = (h ^ dist[i]) * 0x100000001b3ull;
    return h ^ (u64)reached << 56;
}
