/* Kruskal's minimum spanning forest on up to 32 nodes: the input is a list of 3-byte
 * edges (u, v, weight), nodes taken modulo 32; the edges are sorted by weight with a
 * counting sort of their indices (weights bucketed by their top four bits, stable),
 * and a union-find over a u8 parent array with path halving and union by size joins
 * their ends.  Returns the forest's weight, its edge count and the component count. */
#include "corpus.h"

#define NODES 32
#define MAXEDGES 96

static u8 find(u8 *parent, u8 x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

PROGRAM
{
    u8 parent[NODES], size[NODES];
    u8 order[MAXEDGES];
    u8 bucket_start[17];
    u32 m = len / 3;
    if (m > MAXEDGES)
        m = MAXEDGES;
    for (int i = 0; i < NODES; i++) {
        parent[i] = i;
        size[i] = 1;
    }
    for (int b = 0; b <= 16; b++)
        bucket_start[b] = 0;
    for (u32 e = 0; e < m; e++)
        bucket_start[(mem[3 * e + 2] >> 4) + 1]++;
    for (int b = 0; b < 16; b++)
        bucket_start[b + 1] += bucket_start[b];
    for (u32 e = 0; e < m; e++)
        order[bucket_start[mem[3 * e + 2] >> 4]++] = e;
    u64 weight = 0;
    u32 taken = 0, components = NODES;
    for (u32 k = 0; k < m; k++) {
        u32 e = order[k];
        u8 a = find(parent, mem[3 * e] % NODES);
        u8 b = find(parent, mem[3 * e + 1] % NODES);
        if (a == b)
            continue;
        if (size[a] < size[b]) {
            u8 t = a;
            a = b;
            b = t;
        }
        parent[b] = a;
        size[a] += size[b];
        weight += mem[3 * e + 2];
        taken++;
        components--;
    }
    return weight << 32 | taken << 16 | components;
}
