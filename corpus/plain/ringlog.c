/* A log of the last 40 records kept in a ring whose head wraps by a compare and a reset
 * (`if (++head == SLOTS) head = 0`, not a mask or a modulo), records of 6 bytes each
 * copied in from the input; a record whose first byte is 0xFF instead replays the log
 * from the oldest entry, folding each into a hash.  Returns the hash, the records
 * logged and the replays. */
#include "corpus.h"

#define SLOTS 40
#define RECORD 6

PROGRAM
{
    u8 ring[SLOTS][RECORD];
    u32 head = 0, used = 0;
    u64 h = 0, logged = 0, replays = 0;
    for (u64 at = 0; at + RECORD <= len; at += RECORD) {
        const u8 *rec = mem + at;
        if (rec[0] == 0xFF) {
            u32 i = used < SLOTS ? 0 : head;
            for (u32 n = 0; n < used; n++) {
                for (int b = 0; b < RECORD; b++)
                    h = (h ^ ring[i][b]) * 0x100000001b3ull;
                if (++i == SLOTS)
                    i = 0;
            }
            replays++;
            continue;
        }
        for (int b = 0; b < RECORD; b++)
            ring[head][b] = rec[b];
        if (++head == SLOTS)
            head = 0;
        if (used < SLOTS)
            used++;
        logged++;
    }
    return h ^ logged << 40 ^ replays << 56;
}
