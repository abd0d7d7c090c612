/* Wildcard matching with one backtrack point, as shells match file names: the first
 * line of the input is a pattern of at most 32 bytes ('*' any run, '?' any byte), each
 * further line a name of at most 64 bytes; a '*' saves where to resume, a mismatch
 * goes back there with the name one byte further.  Returns a hash of which lines match. */
#include "corpus.h"

static int match(const u8 *pat, u32 plen, const u8 *name, u32 nlen)
{
    u32 p = 0, n = 0, star = ~0u, mark = 0;
    while (n < nlen) {
        if (p < plen && (pat[p] == '?' || pat[p] == name[n])) {
            p++;
            n++;
        } else if (p < plen && pat[p] == '*') {
            star = p++;
            mark = n;
        } else if (star != ~0u) {
            p = star + 1;
            n = ++mark;
        } else {
            return 0;
        }
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

PROGRAM
{
    u32 plen = 0;
    while (plen < len && plen < 32 && mem[plen] != '\n')
        plen++;
    if (plen >= len)
        return 0;
    u64 h = 0, off = plen + 1;
    while (off < len && off < 8192) {
        u32 n = 0;
        while (off + n < len && n < 64 && mem[off + n] != '\n')
            n++;
        h = h * 3 + match(mem, plen, mem + off, n);
        off += n + 1;
    }
    return h;
}
