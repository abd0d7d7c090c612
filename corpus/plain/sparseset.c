/* A sparse set of values below 128 (Briggs and Torczon): `dense` lists the members, `sparse`
 * maps a value to its place in `dense`, and a value is a member when its place is below
 * the count and points back at it, so neither array needs clearing.  Each input byte's
 * low 7 bits toggle that value's membership (a removal moves the last member into the hole); the
 * set is cleared by resetting the count whenever such a value is 0.  Returns a hash of
 * the counts and of the members at the end, in their order. */
#include "corpus.h"

PROGRAM
{
    u8 dense[128], sparse[128];
    u32 n = 0;
    u64 h = 0;
    for (u32 i = 0; i < 128; i++)       /* (the kernel's verifier wants them written) */
        dense[i] = sparse[i] = (u8)(i * 7);
    for (u64 at = 0; at < len; at++) {
        u8 v = mem[at] & 127;
        if (v == 0) {
            n = 0;
            continue;
        }
        u32 s = sparse[v];
        if (s < n && dense[s] == v) {   /* a member: remove it */
            u8 last = dense[--n];
            dense[s] = last;
            sparse[last] = (u8)s;
        } else {                        /* add it */
            dense[n] = v;
            sparse[v] = (u8)n;
            n++;
        }
        h = h * 31 + n;
    }
    for (u32 i = 0; i < n; i++)
        h = h * 131 + dense[i];
    return h;
}
