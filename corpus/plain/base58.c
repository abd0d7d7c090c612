/* Base58 text of the input taken 32 bytes at a time: the number kept as little-endian
 * base-58 digits, each input byte multiplied in with a carry through all of them; the
 * digits are folded through the alphabet into a hash. */
#include "corpus.h"

static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

PROGRAM
{
    u64 h = 14695981039346656037ull;     /* FNV-1a */
    for (u64 base = 0; base < len && base < 1024; base += 32) {
        u64 n = min(len - base, 32);
        const u8 *chunk = mem + base;
        u8 digits[48];
        u32 ndig = 0, zeros = 0;
        while (zeros < n && chunk[zeros] == 0)
            zeros++;
        for (u64 i = zeros; i < n; i++) {
            u32 carry = chunk[i];
            for (u32 j = 0; j < ndig; j++) {
                carry += (u32)digits[j] << 8;
                digits[j] = carry % 58;
                carry /= 58;
            }
            while (carry && ndig < sizeof digits) {
                digits[ndig++] = carry % 58;
                carry /= 58;
            }
        }
        for (u32 k = 0; k < zeros; k++)
            h = (h ^ '1') * 1099511628211ull;
        while (ndig > 0)
            h = (h ^ (u8)alphabet[digits[--ndig]]) * 1099511628211ull;
        h ^= n << 56;
    }
    return h;
}
