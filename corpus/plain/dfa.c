/* A table-driven lexer: each byte is mapped to one of eight classes (a 256-entry table
 * in read-only data), and a transition table of 8 states by 8 classes, also read-only,
 * gives the next state; the state is always read back from the table.  Counts the
 * tokens (numbers, words, operators) that end in an accepting state. */
#include "corpus.h"

enum { C_SPACE, C_DIGIT, C_ALPHA, C_OP, C_DOT, C_QUOTE, C_NL, C_OTHER };

static const u8 classes[256] = {
    [' '] = C_SPACE, ['\t'] = C_SPACE, ['\n'] = C_NL, ['.'] = C_DOT, ['"'] = C_QUOTE,
    ['0' ... '9'] = C_DIGIT, ['a' ... 'z'] = C_ALPHA, ['A' ... 'Z'] = C_ALPHA,
    ['_'] = C_ALPHA, ['+'] = C_OP, ['-'] = C_OP, ['*'] = C_OP, ['/'] = C_OP,
    ['='] = C_OP, ['<'] = C_OP, ['>'] = C_OP,
    [128 ... 255] = C_OTHER, ['!'] = C_OTHER, ['#'] = C_OTHER,
};

/* states: 0 start, 1 integer, 2 fraction, 3 word, 4 operator, 5 string, 6 string end,
 * 7 error */
static const u8 next[8][8] = {
    /*          space digit alpha op dot quote nl other */
    /* 0 */   { 0,    1,    3,    4, 7,  5,    0, 7 },
    /* 1 */   { 0,    1,    7,    4, 2,  7,    0, 7 },
    /* 2 */   { 0,    2,    7,    4, 7,  7,    0, 7 },
    /* 3 */   { 0,    3,    3,    4, 7,  7,    0, 7 },
    /* 4 */   { 0,    1,    3,    4, 7,  5,    0, 7 },
    /* 5 */   { 5,    5,    5,    5, 5,  6,    7, 5 },
    /* 6 */   { 0,    7,    7,    4, 7,  7,    0, 7 },
    /* 7 */   { 0,    7,    7,    7, 7,  7,    0, 7 },
};

PROGRAM
{
    u32 state = 0;
    u64 tokens[8] = { 0 };
    for (u64 i = 0; i < len && i < 16384; i++) {
        u32 c = classes[mem[i]];
        u32 to = next[state][c];
        if (to != state && state != 0 && !(state == 5 && to == 6))
            tokens[state]++;
        state = to;
    }
    tokens[state]++;
    u64 h = 0;
    for (int s = 0; s < 8; s++)
        h = h * 1000003 + tokens[s];
    return h;
}
