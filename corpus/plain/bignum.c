/* Schoolbook multiplication of big numbers: each 64-byte record holds two numbers of
 * eight little-endian 32-bit limbs; their 16-limb product is computed on the stack with
 * 64-bit partial products and carries, and folded into a hash. */
#include "corpus.h"

#define LIMBS 8

HELPER void multiply(const u32 *a, const u32 *b, u32 *out)
{
    for (int k = 0; k < 2 * LIMBS; k++)
        out[k] = 0;
    for (int i = 0; i < LIMBS; i++) {
        u64 carry = 0;
        for (int j = 0; j < LIMBS; j++) {
            u64 t = (u64)a[i] * b[j] + out[i + j] + carry;
            out[i + j] = (u32)t;
            carry = t >> 32;
        }
        out[i + LIMBS] = (u32)carry;
    }
}

PROGRAM
{
    u32 a[LIMBS], b[LIMBS], product[2 * LIMBS];
    u64 acc = 0;
    for (u64 off = 0; off + 8 * LIMBS <= len && off < 16384; off += 8 * LIMBS) {
        for (int k = 0; k < LIMBS; k++) {
            a[k] = get_le32(mem + off + 4 * k);
            b[k] = get_le32(mem + off + 4 * LIMBS + 4 * k);
        }
        multiply(a, b, product);
        for (int k = 0; k < 2 * LIMBS; k++)
            acc = (acc ^ product[k]) * 0x100000001b3ull;
    }
    return acc;
}
