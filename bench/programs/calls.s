# Sum of f(i) = i * i + 1 for i in 0..199, f a bpf-to-bpf call using its own stack frame.
    mov %r6, 0              # i (callee-saved, survives the call)
    mov %r7, 0              # sum
loop:
    mov %r1, %r6
    call local square_plus_one
    add %r7, %r0
    add %r6, 1
    jlt %r6, 200, loop
    mov %r0, %r7
    exit
square_plus_one:
    stxdw [%r10-8], %r1
    ldxdw %r0, [%r10-8]
    mul %r0, %r1
    add %r0, 1
    exit
