/* Signed indices counting down: the buffer is a 4-byte key followed by a haystack.
 * Finds the last occurrence of the key, then copies up to 32 bytes before it into a
 * stack array back to front and folds them. */
#include "corpus.h"

PROGRAM
{
    if (len < 4)
        return 0;
    const u8 *key = mem;
    const u8 *hay = mem + 4;
    int n = (int)min(len - 4, 2000);
    int found = -1;
    for (int i = n - 4; i >= 0; i--) {
        if (hay[i] == key[0] && hay[i + 1] == key[1] && hay[i + 2] == key[2] &&
            hay[i + 3] == key[3]) {
            found = i;
            break;
        }
    }
    if (found < 0)
        return 1;
    u8 before[32];
    int count = found < 32 ? found : 32;
    int j = count - 1;
    while (j >= 0) {
        before[j] = hay[found - count + j];
        j--;
    }
    u64 h = (u64)found << 32;
    for (int k = 0; k < count; k++)
        h = h * 131 + before[k];
    return h;
}
