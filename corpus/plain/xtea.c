/* XTEA encryption in CBC mode of the input's 8-byte blocks under a key taken from its
 * first 16 bytes: 32 cycles each, the key word chosen by sum & 3 and (sum >> 11) & 3. */
#include "corpus.h"

PROGRAM
{
    u32 key[4] = {0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210};
    if (len >= 16)
        for (int i = 0; i < 4; i++)
            key[i] ^= get_le32(mem + 4 * i);
    u32 c0 = 0, c1 = 0;
    for (u64 off = 16; off + 8 <= len && off < 16 + 8 * 256; off += 8) {
        u32 v0 = get_le32(mem + off) ^ c0, v1 = get_le32(mem + off + 4) ^ c1;
        u32 sum = 0;
        for (int r = 0; r < 32; r++) {
            v0 += (((v1 << 4) ^ (v1 >> 5)) + v1) ^ (sum + key[sum & 3]);
            sum += 0x9e3779b9;
            v1 += (((v0 << 4) ^ (v0 >> 5)) + v0) ^ (sum + key[(sum >> 11) & 3]);
        }
        c0 = v0;
        c1 = v1;
    }
    return (u64)c0 << 32 | c1;
}
