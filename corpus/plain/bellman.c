/* Bellman-Ford shortest paths from node 0 over 16 nodes, edges (u, v, signed weight)
 * taken from the input's byte triples; rounds stop early when nothing relaxes, and a
 * last round reports a negative cycle.  Signed distances throughout. */
#include "corpus.h"

#define NODES 16
#define EDGES 80
#define INF 0x3fffffff

PROGRAM
{
    s32 dist[NODES];
    u8 from[EDGES], to[EDGES];
    s8 weight[EDGES];
    u64 edges = min(len / 3, EDGES);
    for (u64 e = 0; e < edges; e++) {
        from[e] = mem[3 * e] % NODES;
        to[e] = mem[3 * e + 1] % NODES;
        weight[e] = ((s8)mem[3 * e + 2] >> 2) + 8;
    }
    for (u32 v = 0; v < NODES; v++)
        dist[v] = INF;
    dist[0] = 0;
    u32 rounds = 0;
    for (; rounds < NODES - 1; rounds++) {
        int changed = 0;
        for (u64 e = 0; e < edges; e++) {
            s32 d = dist[from[e]];
            if (d == INF)
                continue;
            s32 through = d + weight[e];
            if (through < dist[to[e]]) {
                dist[to[e]] = through < -INF ? -INF : through;
                changed = 1;
            }
        }
        if (!changed)
            break;
    }
    int negative = 0;
    for (u64 e = 0; e < edges; e++) {
        s32 d = dist[from[e]];
        if (d != INF && d + weight[e] < dist[to[e]])
            negative = 1;
    }
    s64 h = negative;
    for (u32 v = 0; v < NODES; v++)
        h = h * 1000003 + dist[v];
    return (u64)h ^ (u64)rounds << 58;
}
