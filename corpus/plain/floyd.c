/* All-pairs shortest paths by Floyd-Warshall on a graph of up to 12 nodes: a node
 * count, then (from, to, weight) byte triples, nodes taken modulo the count; a 2D
 * table of u16 distances (0xffff for none) relaxed through each node in turn.
 * Returns the sum of the finite distances, the number of reachable pairs and the
 * diameter, packed. */
#include "corpus.h"

#define MAXN 12
#define NONE 0xffff

PROGRAM
{
    u16 dist[MAXN][MAXN];
    if (len < 1)
        return 0;
    u32 n = mem[0] % MAXN + 1;
    for (u32 i = 0; i < n; i++)
        for (u32 j = 0; j < n; j++)
            dist[i][j] = i == j ? 0 : NONE;
    for (u64 off = 1; off + 3 <= len && off < 4000; off += 3) {
        u32 a = mem[off] % n, b = mem[off + 1] % n, w = mem[off + 2];
        if (w < dist[a][b])
            dist[a][b] = w;
    }
    for (u32 k = 0; k < n; k++)
        for (u32 i = 0; i < n; i++) {
            u32 ik = dist[i][k];
            if (ik == NONE)
                continue;
            for (u32 j = 0; j < n; j++) {
                u32 kj = dist[k][j];
                if (kj != NONE && ik + kj < dist[i][j])
                    dist[i][j] = ik + kj;
            }
        }
    u64 sum = 0, pairs = 0, diameter = 0;
    for (u32 i = 0; i < n; i++)
        for (u32 j = 0; j < n; j++)
            if (dist[i][j] != NONE) {
                sum += dist[i][j];
                pairs++;
                if (dist[i][j] > diameter)
                    diameter = dist[i][j];
            }
    return sum << 32 | pairs << 16 | diameter;
}
