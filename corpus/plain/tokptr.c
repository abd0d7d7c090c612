/* Words kept as pointers: each line of the input is split at spaces into at most 12
 * words whose start pointers and lengths go into stack arrays (an array of pointers
 * into the buffer, as argv-style C keeps them); then the words are compared pairwise
 * through those pointers to count repeated words, and the longest word is hashed
 * through its pointer.  Returns the repeats, the words and a hash of the longest. */
#include "corpus.h"

#define MAXW 12

PROGRAM
{
    const u8 *word[MAXW];
    u32 size[MAXW];
    u64 repeats = 0, words = 0, h = 0;
    u64 at = 0;
    while (at < len) {
        u32 n = 0;
        while (at < len && mem[at] != '\n') {
            while (at < len && mem[at] == ' ')
                at++;
            if (at >= len || mem[at] == '\n')
                break;
            u64 start = at;
            while (at < len && mem[at] != ' ' && mem[at] != '\n')
                at++;
            if (n < MAXW) {
                word[n] = mem + start;
                size[n] = at - start;
                n++;
            }
        }
        at++;
        words += n;
        u32 longest = 0;
        for (u32 i = 0; i < n; i++) {
            if (size[i] > size[longest])
                longest = i;
            for (u32 j = i + 1; j < n; j++) {
                if (size[i] != size[j])
                    continue;
                u32 k = 0;
                while (k < size[i] && word[i][k] == word[j][k])
                    k++;
                repeats += k == size[i];
            }
        }
        if (n) {
            const u8 *w = word[longest];
            for (u32 k = 0; k < size[longest]; k++)
                h = (h ^ w[k]) * 0x100000001b3ull;
        }
    }
    return h ^ repeats << 48 ^ words << 32;
}
