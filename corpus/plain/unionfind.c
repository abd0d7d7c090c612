/* Connected components with a disjoint-set forest: 100 nodes whose parent links live in
 * a byte array on the stack; each pair of input bytes joins nodes a % 100 and b % 100
 * (union by size, sizes in a second array), finding roots with path halving, so every
 * index past the first is one read back from the forest itself.  Returns the number of
 * components, the largest one's size and a hash of every node's root. */
#include "corpus.h"

#define NODES 100

static inline u32 find(u8 *parent, u32 x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

PROGRAM
{
    u8 parent[NODES];
    u16 size[NODES];
    for (u32 i = 0; i < NODES; i++) {
        parent[i] = i;
        size[i] = 1;
    }
    u32 components = NODES, largest = 1;
    for (u64 at = 0; at + 1 < len; at += 2) {
        u32 a = find(parent, mem[at] % NODES);
        u32 b = find(parent, mem[at + 1] % NODES);
        if (a == b)
            continue;
        if (size[a] < size[b]) {
            u32 t = a; a = b; b = t;
        }
        parent[b] = a;
        size[a] += size[b];
        if (size[a] > largest)
            largest = size[a];
        components--;
    }
    u64 h = 0;
    for (u32 i = 0; i < NODES; i++)
        h = h * 131 + find(parent, i);
    return (u64)components << 48 | (u64)largest << 32 | (h & 0xffffffff);
}
