/* A register machine of eight 32-bit registers interpreting 4-byte instructions from
 * the input (opcode, destination, source, immediate): load an immediate, add, subtract,
 * multiply, xor, shift, and a backward or forward jump while a register is non-zero,
 * for at most 20,000 steps.  Returns the registers folded with the step count. */
#include "corpus.h"

enum { LOADI, ADD, SUB, MUL, XOR, SHR, JNZ, HALT };

PROGRAM
{
    u32 reg[8] = {0};
    u64 count = len / 4;
    if (count > 256)
        count = 256;
    u64 pc = 0, steps = 0;
    while (pc < count && steps < 20000) {
        const u8 *insn = mem + 4 * pc;
        u8 op = insn[0] & 7, d = insn[1] & 7, s = insn[2] & 7;
        s8 imm = insn[3];
        steps++;
        pc++;
        switch (op) {
        case LOADI: reg[d] = imm; break;
        case ADD: reg[d] += reg[s] + imm; break;
        case SUB: reg[d] -= reg[s]; break;
        case MUL: reg[d] *= reg[s] | 1; break;
        case XOR: reg[d] ^= reg[s] << (imm & 7); break;
        case SHR: reg[d] >>= reg[s] & 31; break;
        case JNZ:
            if (reg[d] != 0) {
                reg[d]--;
                s64 target = (s64)pc + imm;
                if (target < 0 || (u64)target >= count)
                    goto out;
                pc = target;
            }
            break;
        default: goto out;
        }
    }
out:;
    u64 h = steps;
    for (u32 i = 0; i < 8; i++)
        h = h * 0x9e3779b1 + reg[i];
    return h;
}
