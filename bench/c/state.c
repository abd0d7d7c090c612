/* A state machine: counts the HTTP request lines ("GET /" or "POST /") in the
 * buffer, byte by byte. */
#include "bench.h"

ENTRY
{
    u32 state = 0;
    u64 count = 0;
    for (u64 i = 0; i < len; i++) {
        u8 c = mem[i];
        switch (state) {
        case 0: state = c == 'G' ? 1 : c == 'P' ? 5 : 0; break;
        case 1: state = c == 'E' ? 2 : 0; break;
        case 2: state = c == 'T' ? 3 : 0; break;
        case 3: state = c == ' ' ? 4 : 0; break;
        case 4: if (c == '/') count++; state = 0; break;
        case 5: state = c == 'O' ? 6 : 0; break;
        case 6: state = c == 'S' ? 7 : 0; break;
        case 7: state = c == 'T' ? 3 : 0; break;
        }
    }
    return count;
}
