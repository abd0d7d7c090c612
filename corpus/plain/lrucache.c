/* An LRU cache of 16 slots, its order kept in a doubly-linked list of u8 indices on
 * the stack (prev/next arrays, 0xff for none), as an embedded cache keeps one: each
 * 2-byte key of the input (64 distinct, by its low six bits) is looked up by walking
 * the list from the head; a hit moves its slot to the front, a miss takes a free slot
 * or evicts the tail.  Returns hits << 32 | misses, folded with the final order. */
#include "corpus.h"

#define SLOTS 16
#define NIL 0xff

PROGRAM
{
    u16 keys[SLOTS];
    u8 prev[SLOTS], next[SLOTS];
    u8 head = NIL, tail = NIL, used = 0;
    u64 hits = 0, misses = 0;
    for (u64 off = 0; off + 2 <= len && off < 8192; off += 2) {
        u16 key = (mem[off] | mem[off + 1] << 8) & 0x3f;
        u8 slot = NIL;
        for (u8 s = head; s != NIL; s = next[s]) {
            if (keys[s] == key) {
                slot = s;
                break;
            }
        }
        if (slot != NIL) {
            hits++;
            if (slot == head)
                continue;
            next[prev[slot]] = next[slot];
            if (next[slot] != NIL)
                prev[next[slot]] = prev[slot];
            else
                tail = prev[slot];
        } else {
            misses++;
            if (used < SLOTS) {
                slot = used++;
            } else {
                slot = tail;
                tail = prev[slot];
                next[tail] = NIL;
            }
            keys[slot] = key;
        }
        prev[slot] = NIL;
        next[slot] = head;
        if (head != NIL)
            prev[head] = slot;
        else
            tail = slot;
        head = slot;
    }
    u64 h = hits << 32 | misses;
    u8 n = 0;
    for (u8 s = head; s != NIL && n < SLOTS; s = next[s], n++)
        h = h * 31 + keys[s];
    return h;
}
