/* Topological sorts by Kahn's algorithm: every 64 bytes of the input are 32 edges of a
 * graph of 16 nodes (u -> v from the low four bits of a byte pair; loops and repeated
 * edges ignored), kept as a u16 bitmask of successors per node and an in-degree per
 * node; nodes of in-degree 0 go through a queue, each one's successors taken lowest bit
 * first (a count of trailing zeros by halving, x & (x - 1); clang 14 for BPF ran out of
 * memory on __builtin_ctz).  Returns a fold of every order and how many nodes each sort
 * reached (fewer than 16: a cycle). */
#include "corpus.h"

#define V 16

static inline u32 trailing_zeros16(u32 m)
{
    u32 n = 0;
    if (!(m & 0xff)) {
        n += 8;
        m >>= 8;
    }
    if (!(m & 0xf)) {
        n += 4;
        m >>= 4;
    }
    if (!(m & 3)) {
        n += 2;
        m >>= 2;
    }
    return n + !(m & 1);
}

PROGRAM
{
    u64 h = 0;
    for (u64 base = 0; base < len && base < 16384; base += 64) {
        u16 adj[V];
        u8 indeg[V], queue[V];
        for (u32 v = 0; v < V; v++) {
            adj[v] = 0;
            indeg[v] = 0;
        }
        u64 end = min(base + 64, len);
        for (u64 i = base; i + 2 <= end; i += 2) {
            u32 u = mem[i] & (V - 1), v = mem[i + 1] & (V - 1);
            if (u == v || (adj[u] >> v & 1))
                continue;
            adj[u] |= 1 << v;
            indeg[v]++;
        }
        u32 qh = 0, qt = 0;
        for (u32 v = 0; v < V; v++)
            if (indeg[v] == 0)
                queue[qt++] = v;
        u32 done = 0;
        while (qh < qt) {
            u32 u = queue[qh++];
            h = h * 17 + u;
            done++;
            u32 m = adj[u];
            while (m) {
                u32 v = trailing_zeros16(m);
                m &= m - 1;
                if (--indeg[v] == 0)
                    queue[qt++] = v;
            }
        }
        h = h * 31 + done;
    }
    return h;
}
