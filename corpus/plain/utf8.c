/* UTF-8 validation by a table-driven automaton: each byte's class comes from one table
 * in read-only data, the next state from a second table indexed by state and class.
 * Counts code points and returns the offset of the first invalid sequence, if any. */
#include "corpus.h"

enum { ACCEPT = 0, REJECT = 1, CLASSES = 8 };

/* classes: 0 ASCII, 1 continuation 80-8F, 2 continuation 90-9F, 3 continuation A0-BF,
 * 4 lead C2-DF, 5 lead E0-EF, 6 lead F0-F4, 7 never valid (C0, C1, F5-FF) */
static const u8 classes[256] = {
    [0x80 ... 0x8f] = 1, [0x90 ... 0x9f] = 2, [0xa0 ... 0xbf] = 3, [0xc0 ... 0xc1] = 7,
    [0xc2 ... 0xdf] = 4, [0xe0 ... 0xef] = 5, [0xf0 ... 0xf4] = 6, [0xf5 ... 0xff] = 7,
};

/* states: 0 accept, 1 reject, 2 one more continuation, 3 two more, 4 three more
 * (the special first-continuation ranges of E0, ED, F0 and F4 are not told apart:
 * this automaton accepts the surrogates and overlongs of three- and four-byte forms) */
static const u8 next_state[5][CLASSES] = {
    { 0, 1, 1, 1, 2, 3, 4, 1 },
    { 1, 1, 1, 1, 1, 1, 1, 1 },
    { 1, 0, 0, 0, 1, 1, 1, 1 },
    { 1, 2, 2, 2, 1, 1, 1, 1 },
    { 1, 3, 3, 3, 1, 1, 1, 1 },
};

PROGRAM
{
    u64 points = 0, start = 0;
    u32 state = ACCEPT;
    for (u64 i = 0; i < len; i++) {
        state = next_state[state][classes[mem[i]]];
        if (state == REJECT)
            return 1ull << 63 | start;
        if (state == ACCEPT) {
            points++;
            start = i + 1;
        }
    }
    return state == ACCEPT ? points : 1ull << 62 | start;
}
