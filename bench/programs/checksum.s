# Internet checksum (RFC 1071) of the memory buffer: r1 = data, r2 = length.
# 16-bit little-endian words are summed, a trailing odd byte is added,
# carries are folded back in, and the one's complement is returned.
    mov %r0, 0              # sum
    mov %r3, %r1            # p
    mov %r4, %r1
    add %r4, %r2            # end
    mov %r5, %r2
    and %r5, -2             # length rounded down to whole words
    add %r5, %r1            # end of the words
words:
    jge %r3, %r5, tail
    ldxh %r6, [%r3]
    add %r0, %r6
    add %r3, 2
    ja words
tail:
    jge %r3, %r4, fold
    ldxb %r6, [%r3]
    add %r0, %r6
fold:
    mov %r6, %r0
    rsh %r6, 16
    jeq %r6, 0, done
    and %r0, 0xffff
    add %r0, %r6
    ja fold
done:
    xor %r0, 0xffff
    exit
