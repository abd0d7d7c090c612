/* Words of the input (split on spaces and newlines) stored in a byte trie of at most
 * 80 nodes on the stack, each node a struct of its byte, its first child and its next
 * sibling as u8 indices (0 for none: node 0 is the root), searched child by child.
 * A full trie drops the bytes it cannot store.  Then the trie is walked depth first
 * from an explicit stack.  Returns a fold of the walk, the words, the distinct words
 * and the bytes dropped. */
#include "corpus.h"

#define NODES 80

struct node {
    u8 ch, child, sibling, seen;
};

PROGRAM
{
    struct node t[NODES];
    u32 n = 1, cur = 0, words = 0, distinct = 0, dropped = 0;
    t[0].ch = 0;
    t[0].child = 0;
    t[0].sibling = 0;
    t[0].seen = 0;
    for (u64 i = 0; i < len && i < 4096; i++) {
        u8 c = mem[i];
        if (c == ' ' || c == '\n') {
            if (cur != 0) {
                words++;
                if (!t[cur].seen) {
                    t[cur].seen = 1;
                    distinct++;
                }
            }
            cur = 0;
            continue;
        }
        u32 k = t[cur].child;
        while (k != 0 && t[k].ch != c)
            k = t[k].sibling;
        if (k == 0) {
            if (n == NODES) {
                dropped++;
                continue;
            }
            k = n++;
            t[k].ch = c;
            t[k].child = 0;
            t[k].seen = 0;
            t[k].sibling = t[cur].child;
            t[cur].child = k;
        }
        cur = k;
    }
    if (cur != 0) {
        words++;
        if (!t[cur].seen)
            distinct++;
    }
    u8 stack[NODES];
    u32 sp = 0;
    u64 h = 0;
    stack[sp++] = 0;
    while (sp) {
        u32 k = stack[--sp];
        h = h * 131 + t[k].ch + t[k].seen;
        for (u32 c = t[k].child; c != 0; c = t[c].sibling)
            if (sp < NODES)
                stack[sp++] = c;
    }
    return h ^ (u64)words << 40 ^ (u64)distinct << 20 ^ dropped;
}
