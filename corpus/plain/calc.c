/* A recursive-descent evaluator of prefix expressions over bytes: '+', '-', '*', '/'
 * (truncating, written with unsigned division) and 'm' (max) take two operands, '~'
 * one, digits are numbers.  The recursion is bounded by the C code: eval at depth 6
 * is the eighth frame with the entry function, the most eBPF allows, and returns 0
 * without recursing. */
#include "corpus.h"

struct cursor {
    const u8 *mem;
    u64 len;
    u64 pos;
    u32 nodes;
};

HELPER s64 eval(struct cursor *c, int depth)
{
    if (c->pos >= c->len || depth > 5)
        return 0;
    u8 op = c->mem[c->pos++];
    c->nodes++;
    if (op >= '0' && op <= '9')
        return op - '0';
    if (op == '~')
        return -eval(c, depth + 1);
    if (op != '+' && op != '-' && op != '*' && op != '/' && op != 'm')
        return 0;
    s64 a = eval(c, depth + 1);
    s64 b = eval(c, depth + 1);
    switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': {
        if (b == 0)
            return 0;
        u64 q = (u64)(a < 0 ? -a : a) / (u64)(b < 0 ? -b : b);
        return (a < 0) != (b < 0) ? -(s64)q : (s64)q;
    }
    default: return a > b ? a : b;
    }
}

PROGRAM
{
    struct cursor c = { mem, len, 0, 0 };
    u64 h = 0;
    while (c.pos < c.len && c.nodes < 1000)
        h = h * 1000003 + (u64)eval(&c, 0);
    return h ^ (u64)c.nodes << 48;
}
