/* A binary trie of depth 6 in implicit layout: node k's children are 2k + 1 and
 * 2k + 2, so the 127 nodes of a full tree of depth 6 fit in one stack array of
 * counters.  Each input byte's six high bits are inserted from the root (a counter
 * bumped on every node on the path), then the longest prefix of the next byte with a
 * count above 1 is found by walking down until a node's count falls to 1 or less.
 * Returns a hash of the prefix lengths and the root's count. */
#include "corpus.h"

#define DEPTH 6
#define NODES ((1 << (DEPTH + 1)) - 1)

PROGRAM
{
    u16 count[NODES];
    for (int k = 0; k < NODES; k++)
        count[k] = 0;
    u64 h = 0;
    for (u64 at = 0; at < len; at++) {
        u32 key = mem[at] >> 2;
        u32 k = 0;
        count[0]++;
        for (int d = DEPTH - 1; d >= 0; d--) {
            k = 2 * k + 1 + ((key >> d) & 1);
            count[k]++;
        }
        u32 probe = at + 1 < len ? mem[at + 1] >> 2 : 0;
        u32 depth = 0;
        k = 0;
        for (int d = DEPTH - 1; d >= 0; d--) {
            u32 next = 2 * k + 1 + ((probe >> d) & 1);
            if (count[next] <= 1)
                break;
            k = next;
            depth++;
        }
        h = (h ^ depth) * 0x100000001b3ull;
    }
    return h ^ (u64)count[0] << 48;
}
