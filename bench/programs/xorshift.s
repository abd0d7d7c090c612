# 1000 rounds of xorshift64 (13, 7, 17), summing every state: pure ALU work.
    lddw %r1, 0x9e3779b97f4a7c15    # state
    mov %r0, 0                      # sum of states
    mov %r2, 1000                   # rounds left
round:
    mov %r3, %r1
    lsh %r3, 13
    xor %r1, %r3
    mov %r3, %r1
    rsh %r3, 7
    xor %r1, %r3
    mov %r3, %r1
    lsh %r3, 17
    xor %r1, %r3
    add %r0, %r1
    sub %r2, 1
    jne %r2, 0, round
    exit
