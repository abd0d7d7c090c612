/* A point quadtree in a fixed pool of nodes: bytes pairs are points in 256 x 256,
 * each node holds up to two points before it splits into four quadrants (the child
 * picked by two comparisons); then rectangles, also from the input, are counted with
 * an explicit stack of nodes to visit. */
#include "corpus.h"

#define NODES 29
#define CAP 2
#define STACK 24

struct node {
    u8 child[4];        /* 0: none (node 0 is the root, never a child) */
    u8 count;           /* points held here; 255 once split */
    u8 x0, y0, size_log;
    u8 px[CAP], py[CAP];
};

static void split(struct node *pool, u32 at, u32 *used)
{
    struct node *n = &pool[at];
    u32 half = n->size_log - 1;
    for (u32 q = 0; q < 4; q++) {
        struct node *c = &pool[*used];
        c->child[0] = c->child[1] = c->child[2] = c->child[3] = 0;
        c->count = 0;
        c->size_log = half;
        c->x0 = n->x0 + ((q & 1) << half);
        c->y0 = n->y0 + ((q >> 1) << half);
        n->child[q] = *used;
        *used += 1;
    }
}

static int insert(struct node *pool, u32 *used, u8 x, u8 y)
{
    u32 at = 0;
    for (;;) {
        struct node *n = &pool[at];
        if (n->count != 255) {
            if (n->count < CAP) {
                n->px[n->count] = x;
                n->py[n->count] = y;
                n->count++;
                return 1;
            }
            if (n->size_log == 0 || *used + 4 > NODES)
                return 0;
            split(pool, at, used);
            for (u32 k = 0; k < CAP; k++) {
                u32 half = 1u << (n->size_log - 1);
                u32 q = (n->px[k] >= n->x0 + half) | (n->py[k] >= n->y0 + half) << 1;
                struct node *c = &pool[n->child[q]];
                c->px[c->count] = n->px[k];
                c->py[c->count] = n->py[k];
                c->count++;
            }
            n->count = 255;
        }
        u32 half = 1u << (n->size_log - 1);
        at = n->child[(x >= n->x0 + half) | (y >= n->y0 + half) << 1];
    }
}

static u32 count_in(const struct node *pool, u8 x1, u8 y1, u8 x2, u8 y2)
{
    u8 stack[STACK];
    u32 top = 0, found = 0;
    stack[top++] = 0;
    while (top) {
        const struct node *n = &pool[stack[--top]];
        u32 side = 1u << n->size_log;
        if (n->x0 > x2 || n->y0 > y2 || n->x0 + side <= x1 || n->y0 + side <= y1)
            continue;
        if (n->count != 255) {
            for (u32 k = 0; k < n->count && k < CAP; k++)
                found += n->px[k] >= x1 && n->px[k] <= x2 && n->py[k] >= y1 && n->py[k] <= y2;
            continue;
        }
        for (u32 q = 4; q-- > 0 && top < STACK;)
            if (n->child[q])
                stack[top++] = n->child[q];
    }
    return found;
}

PROGRAM
{
    struct node pool[NODES];
    u32 used = 1, kept = 0;
    pool[0].count = 0;
    pool[0].x0 = pool[0].y0 = 0;
    pool[0].size_log = 8;
    u64 i = 0;
    for (; i + 1 < len && i < 2 * 48; i += 2)
        kept += insert(pool, &used, mem[i], mem[i + 1]);
    u64 h = kept << 8 | used;
    for (; i + 3 < len; i += 4) {
        u8 a = mem[i], b = mem[i + 1], c = mem[i + 2], d = mem[i + 3];
        h = h * 0x9e3779b97f4a7c15ull ^ count_in(pool, min(a, c), min(b, d), max(a, c), max(b, d));
    }
    return h;
}
