/* Strongly connected components (Tarjan) of a 24-node graph whose edges are the input's
 * byte pairs, in compressed rows, walked with an explicit stack of (node, next edge)
 * frames instead of recursion; returns the count and a hash of the component sizes. */
#include "corpus.h"

#define NODES 24
#define EDGES 96
#define UNSEEN 0xff

PROGRAM
{
    u8 start[NODES + 1] = {0}, adj[EDGES], fill[NODES];
    u64 edges = min(len / 2, EDGES);
    for (u64 e = 0; e < edges; e++)
        start[mem[2 * e] % NODES + 1]++;
    for (u32 v = 0; v < NODES; v++) {
        start[v + 1] += start[v];
        fill[v] = start[v];
    }
    for (u64 e = 0; e < edges; e++)
        adj[fill[mem[2 * e] % NODES]++] = mem[2 * e + 1] % NODES;

    u8 index[NODES], low[NODES], onstack[NODES] = {0}, stack[NODES], frame[NODES], edge[NODES];
    for (u32 v = 0; v < NODES; v++)
        index[v] = UNSEEN;
    u32 counter = 0, depth = 0, sp = 0, components = 0;
    u64 h = 0;
    for (u32 root = 0; root < NODES; root++) {
        if (index[root] != UNSEEN)
            continue;
        frame[0] = root;
        edge[0] = start[root];
        depth = 1;
        index[root] = low[root] = counter++;
        stack[sp++] = root;
        onstack[root] = 1;
        while (depth > 0) {
            u32 v = frame[depth - 1];
            if (edge[depth - 1] < start[v + 1]) {
                u32 w = adj[edge[depth - 1]++];
                if (index[w] == UNSEEN) {
                    index[w] = low[w] = counter++;
                    stack[sp++] = w;
                    onstack[w] = 1;
                    frame[depth] = w;
                    edge[depth] = start[w];
                    depth++;
                } else if (onstack[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            if (low[v] == index[v]) {
                u32 size = 0, w;
                do {
                    w = stack[--sp];
                    onstack[w] = 0;
                    size++;
                } while (w != v);
                components++;
                h = h * 31 + size;
            }
            depth--;
            if (depth > 0) {
                u32 parent = frame[depth - 1];
                if (low[v] < low[parent])
                    low[parent] = low[v];
            }
        }
    }
    return h << 8 | components;
}
