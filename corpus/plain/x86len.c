/* Lengths of the x86-64 instructions in the input (a subset: legacy prefixes, REX,
 * the one- and two-byte maps with ModRM, SIB, displacements and immediates by table);
 * returns the instruction count, a hash of the lengths and the bytes left undecoded. */
#include "corpus.h"

/* one-byte map: bit 0 has ModRM, bits 1-3 immediate kind (0 none, 1 ib, 2 iw, 3 iz,
 * 4 iv, 5 iw+ib), bit 4 invalid here */
static const u8 map1[256] = {
    [0x00 ... 0x03] = 1, [0x04] = 2, [0x05] = 6, [0x08 ... 0x0b] = 1, [0x0c] = 2, [0x0d] = 6,
    [0x10 ... 0x13] = 1, [0x14] = 2, [0x15] = 6, [0x18 ... 0x1b] = 1, [0x1c] = 2, [0x1d] = 6,
    [0x20 ... 0x23] = 1, [0x24] = 2, [0x25] = 6, [0x28 ... 0x2b] = 1, [0x2c] = 2, [0x2d] = 6,
    [0x30 ... 0x33] = 1, [0x34] = 2, [0x35] = 6, [0x38 ... 0x3b] = 1, [0x3c] = 2, [0x3d] = 6,
    [0x06 ... 0x07] = 16, [0x0e] = 16, [0x16 ... 0x17] = 16, [0x1e ... 0x1f] = 16,
    [0x27] = 16, [0x2f] = 16, [0x37] = 16, [0x3f] = 16, [0x60 ... 0x62] = 16,
    [0x63] = 1, [0x68] = 6, [0x69] = 7, [0x6a] = 2, [0x6b] = 3,
    [0x70 ... 0x7f] = 2, [0x80] = 3, [0x81] = 7, [0x82] = 16, [0x83] = 3,
    [0x84 ... 0x8f] = 1, [0xa8] = 2, [0xa9] = 6, [0xb0 ... 0xb7] = 2, [0xb8 ... 0xbf] = 8,
    [0xc0 ... 0xc1] = 3, [0xc2] = 4, [0xc4 ... 0xc5] = 16, [0xc6] = 3, [0xc7] = 7,
    [0xc8] = 10, [0xca] = 4, [0xcd] = 2, [0xd0 ... 0xd3] = 1, [0xd4 ... 0xd6] = 16,
    [0xd8 ... 0xdf] = 1, [0xe0 ... 0xe7] = 2, [0xe8 ... 0xe9] = 6, [0xea] = 16, [0xeb] = 2,
    [0xf6] = 1, [0xf7] = 1, [0xfe ... 0xff] = 1,
};

/* two-byte map: has ModRM unless listed; bit 1 ib, bit 2 iz */
static const u8 map2[256] = {
    [0x00 ... 0x03] = 1, [0x0d] = 1, [0x10 ... 0x1f] = 1, [0x20 ... 0x23] = 1, [0x28 ... 0x2f] = 1,
    [0x40 ... 0x6f] = 1, [0x70 ... 0x73] = 3, [0x74 ... 0x7f] = 1, [0x80 ... 0x8f] = 4, [0x90 ... 0x9f] = 1,
    [0xa3] = 1, [0xa4] = 3, [0xa5] = 1, [0xab] = 1, [0xac] = 3, [0xad ... 0xaf] = 1,
    [0xb0 ... 0xb7] = 1, [0xba] = 3, [0xbb ... 0xbf] = 1, [0xc0 ... 0xc1] = 1, [0xc2] = 3,
    [0xc3] = 1, [0xc4 ... 0xc6] = 3, [0xc7] = 1, [0xd0 ... 0xff] = 1,
};

PROGRAM
{
    u64 pos = 0, count = 0, hash = 0;
    while (pos < len) {
        u64 start = pos;
        int opsize16 = 0, rexw = 0;
        while (pos < len) {
            u8 b = mem[pos];
            if (b == 0x66) opsize16 = 1;
            else if (b != 0x67 && b != 0xf0 && b != 0xf2 && b != 0xf3 && b != 0x2e &&
                     b != 0x3e && b != 0x26 && b != 0x36 && b != 0x64 && b != 0x65)
                break;
            pos++;
            if (pos - start == 14)
                break;
        }
        if (pos < len && (mem[pos] & 0xf0) == 0x40) {
            rexw = mem[pos] >> 3 & 1;
            pos++;
        }
        if (pos >= len)
            break;
        u8 op = mem[pos++];
        int modrm, imm;
        if (op == 0x0f) {
            if (pos >= len)
                break;
            u8 op2 = mem[pos++];
            u8 f = map2[op2];
            modrm = f & 1;
            imm = f & 2 ? 1 : f & 4 ? 4 : 0;
        } else {
            u8 f = map1[op];
            if (f & 16) {
                hash = hash * 33 + 0xff;
                count++;
                continue;
            }
            modrm = f & 1;
            switch (f >> 1 & 7) {
            case 0: imm = 0; break;
            case 1: imm = 1; break;
            case 2: imm = 2; break;
            case 3: imm = opsize16 ? 2 : 4; break;
            case 4: imm = rexw ? 8 : opsize16 ? 2 : 4; break;
            default: imm = 3; break;
            }
            if (op == 0xf6 || op == 0xf7) {
                if (pos < len && (mem[pos] >> 3 & 7) < 2)
                    imm = op == 0xf6 ? 1 : opsize16 ? 2 : 4;
            }
        }
        if (modrm) {
            if (pos >= len)
                break;
            u8 m = mem[pos++];
            u8 mod = m >> 6, rm = m & 7;
            if (mod != 3 && rm == 4) {
                if (pos >= len)
                    break;
                u8 sib = mem[pos++];
                if (mod == 0 && (sib & 7) == 5)
                    pos += 4;
            }
            if (mod == 1)
                pos += 1;
            else if (mod == 2 || (mod == 0 && rm == 5))
                pos += 4;
        }
        pos += imm;
        if (pos > len)
            break;
        hash = hash * 33 + (pos - start);
        count++;
    }
    return count << 48 ^ hash << 16 ^ (len - (pos < len ? pos : len));
}
