/* A tiny stack machine: each byte is an instruction (push a digit, add, multiply,
 * duplicate, swap, drop, jump back by the next byte while the top is non-zero), run
 * for at most 4096 steps with a stack of 16 on the BPF stack; returns the top and the
 * steps taken. */
#include "corpus.h"

PROGRAM
{
    u64 stack[16];
    int sp = 0;
    u64 pc = 0, steps = 0;
    while (pc < len && steps < 4096) {
        u8 op = mem[pc++];
        steps++;
        switch (op >> 4) {
        case 0: case 1: case 2:
            if (sp < 16) stack[sp++] = op & 15;
            break;
        case 3:
            if (sp >= 2) { stack[sp - 2] += stack[sp - 1]; sp--; }
            break;
        case 4:
            if (sp >= 2) { stack[sp - 2] *= stack[sp - 1]; sp--; }
            break;
        case 5:
            if (sp >= 1 && sp < 16) { stack[sp] = stack[sp - 1]; sp++; }
            break;
        case 6:
            if (sp >= 2) { u64 t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; }
            break;
        case 7:
            if (sp >= 1) sp--;
            break;
        case 8:
            if (pc < len && sp >= 1 && stack[sp - 1] != 0) {
                stack[sp - 1]--;
                u8 back = mem[pc];
                pc = back < pc ? pc - back - 1 : 0;
            } else {
                pc++;
            }
            break;
        default:
            break;
        }
    }
    return (sp > 0 ? stack[sp - 1] : 0) << 16 | steps;
}
