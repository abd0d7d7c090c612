# Sieve of Eratosthenes over a 512-byte table on the stack: count primes < 512.
    mov %r6, %r10
    sub %r6, 512            # flags[0..511], 0 = not yet crossed out
    mov %r3, 0
    mov %r4, 0
clear:
    mov %r5, %r6
    add %r5, %r3
    stxdw [%r5], %r4
    add %r3, 8
    jlt %r3, 512, clear
    mov %r0, 0              # primes found
    mov %r1, 2              # candidate i
candidate:
    mov %r5, %r6
    add %r5, %r1
    ldxb %r7, [%r5]
    jne %r7, 0, next
    add %r0, 1
    mov %r2, %r1
    mul %r2, %r1            # first multiple to cross out: i * i
cross:
    jge %r2, 512, next
    mov %r5, %r6
    add %r5, %r2
    stb [%r5], 1
    add %r2, %r1
    ja cross
next:
    add %r1, 1
    jlt %r1, 512, candidate
    exit
