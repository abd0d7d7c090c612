/* Bracket matching with an explicit stack: '(' '[' '{' '<' are pushed (up to 48 deep,
 * deeper is an error), each closer must match the top, which is popped; quotes switch
 * matching off until the closing quote, and a backslash escapes the next byte.
 * Returns the pairs matched, the deepest nesting and the first error's position. */
#include "corpus.h"

#define DEPTH 48

PROGRAM
{
    u8 stack[DEPTH];
    u32 sp = 0, deepest = 0;
    u64 pairs = 0, err = 0;
    int quoted = 0;
    for (u64 i = 0; i < len; i++) {
        u8 c = mem[i];
        if (c == '\\') {
            i++;
            continue;
        }
        if (c == '"') {
            quoted = !quoted;
            continue;
        }
        if (quoted)
            continue;
        u8 want = 0;
        switch (c) {
        case '(': case '[': case '{': case '<':
            if (sp == DEPTH) {
                err = i + 1;
                goto out;
            }
            stack[sp++] = c;
            if (sp > deepest)
                deepest = sp;
            continue;
        case ')': want = '('; break;
        case ']': want = '['; break;
        case '}': want = '{'; break;
        case '>': want = '<'; break;
        default: continue;
        }
        if (sp == 0 || stack[sp - 1] != want) {
            err = i + 1;
            goto out;
        }
        sp--;
        pairs++;
    }
    if (sp)
        err = len + 1;
out:
    return pairs << 32 | (u64)deepest << 24 | err;
}
