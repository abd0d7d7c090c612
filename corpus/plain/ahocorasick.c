/* Aho-Corasick over a 16-symbol alphabet (a byte's low four bits): the input starts
 * with a pattern count (low three bits), then each pattern as a length byte (1 to 8)
 * and its bytes; the rest is the text.  The trie (at most 16 nodes) is built in a
 * goto table of u8 node numbers, completed into an automaton breadth first, each
 * node's missing moves and its set of patterns taken from its failure node.  Returns
 * the matches counted per pattern, folded, and the final state. */
#include "corpus.h"

#define NODES 16
#define SYMS 16

PROGRAM
{
    u8 go[NODES][SYMS];
    u8 fail[NODES], out[NODES], queue[NODES];
    for (u32 u = 0; u < NODES; u++) {
        for (u32 c = 0; c < SYMS; c++)
            go[u][c] = 0;
        out[u] = 0;
        fail[u] = 0;
    }
    u32 nodes = 1;
    u64 pos = 0;
    u32 patterns = len ? mem[pos++] & 7 : 0;
    for (u32 p = 0; p < patterns && pos < len; p++) {
        u32 plen = (mem[pos++] & 7) + 1;
        u32 u = 0;
        for (u32 k = 0; k < plen && pos < len; k++) {
            u32 c = mem[pos++] & (SYMS - 1);
            if (!go[u][c]) {
                if (nodes == NODES)
                    break;
                go[u][c] = nodes++;
            }
            u = go[u][c];
        }
        out[u] |= 1 << p;
    }
    /* breadth first: the root's children fail to the root */
    u32 qh = 0, qt = 0;
    for (u32 c = 0; c < SYMS; c++)
        if (go[0][c])
            queue[qt++] = go[0][c];
    while (qh < qt) {
        u32 u = queue[qh++];
        out[u] |= out[fail[u]];
        for (u32 c = 0; c < SYMS; c++) {
            u32 v = go[u][c];
            if (v) {
                fail[v] = go[fail[u]][c];
                queue[qt++] = v;
            } else {
                go[u][c] = go[fail[u]][c];
            }
        }
    }
    u64 counts[8] = {0};
    u32 state = 0;
    for (; pos < len; pos++) {
        state = go[state][mem[pos] & (SYMS - 1)];
        u32 m = out[state];
        for (u32 p = 0; m; p++, m >>= 1)
            counts[p] += m & 1;
    }
    u64 h = state;
    for (u32 p = 0; p < 8; p++)
        h = h * 65599 + counts[p];
    return h;
}
