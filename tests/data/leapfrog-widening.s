# Found by the main fuzz campaign (2026-12-02): a five-trip loop whose widened bounds
# the verifier narrowed back every time through relations the join itself discovered
# between variables that all still moved (r8, its spill at [r10-16], [r10-64], r2), one
# step higher each time: 19,993 runs of the loop's block, then "too complex" after
# 400,000 instruction visits (18 s).  From the 16th join at a loop head, a value still
# moving loses its relations (State.widen without `related`), and the loop settles.
# Its helpers are the fuzzer's (bpfjit.fuzz.oracle.HELPERS); its memory is the one byte e7.
mov %r6, %r1
jgt %r2, 0, +1
stdw [%r10-80], -0x12345678
jgt %r2, 1, +1
stdw [%r10-88], 1
jgt %r2, 2, +1
stdw [%r10-96], 0x7fffffff
jgt %r2, 1, +1
stdw [%r10-104], 1
lddw %r0, 0x7fffffff
lddw %r2, 0x47c5
lddw %r3, 0xffffffff
lddw %r4, 0xfffffffffffffffe
lddw %r5, 0xfffffffffffffffe
lddw %r7, 0x8000000000000000
lddw %r8, 0x8000000000000000
lddw %r9, 0x1ffffffff
stdw [%r10-8], 0xa31
stdw [%r10-16], 63
stdw [%r10-24], 255
stdw [%r10-32], 33
stdw [%r10-40], 0x24e48
stdw [%r10-48], 0x1987
stdw [%r10-56], 0xffff
stdw [%r10-64], -0x71f
stdw [%r10-72], 0
stxdw [%r10-112], %r6
stxdw [%r10-504], %r6
mov %r9, 5
jsgt32 %r3, 0x7fffffff, +6
ldxdw %r1, [%r10-72]
xor %r1, 120
mul %r1, -0x61c88647
be64 %r1
stxdw [%r10-72], %r1
stxb [%r6], %r1
jsge %r3, 0x7fffffff, +6
ldxdw %r1, [%r10-72]
xor %r1, 456
mul %r1, -0x61c88647
be64 %r1
stxdw [%r10-72], %r1
stxb [%r6], %r1
mov32 %r7, %r7
lddw %r7, 0x7fffffff7fffffff
lsh32 %r7, 0
or %r4, %r4
ldxdw %r1, [%r10-72]
xor %r1, %r4
mul %r1, -0x61c88647
be64 %r1
stxdw [%r10-72], %r1
stxb [%r6], %r1
neg32 %r5
lddw %r4, 0x2a2d58
sub %r9, 1
jne %r9, 0, -30
add32 %r2, %r2
stdw [%r10-120], 3
lddw %r1, map_by_fd(0)
mov %r2, %r10
add %r2, -120
call 1
jne %r0, 0, +2
mov %r0, 87
ja +2
stxb [%r0+2], %r9
mov %r0, 183
ldxdw %r1, [%r10-72]
xor %r1, %r0
mul %r1, -0x61c88647
be64 %r1
stxdw [%r10-72], %r1
mov %r2, 7
mov %r3, 65
mov %r4, 0x8000
mov %r5, 6
stxdw [%r10-40], %r3
ldxdw %r1, [%r10-504]
ldxb %r8, [%r1]
lock fetch or32 [%r10-56], %r2
ldxdw %r1, [%r10-72]
xor %r1, %r2
mul %r1, -0x61c88647
be64 %r1
stxdw [%r10-72], %r1
stxb [%r6], %r1
ldxw %r2, [%r10-56]
ldxdw %r1, [%r10-72]
xor %r1, %r2
mul %r1, -0x61c88647
be64 %r1
stxdw [%r10-72], %r1
stxb [%r6], %r1
ldxsb %r7, [%r6]
ldxdw %r1, [%r10-72]
xor %r1, %r7
mul %r1, -0x61c88647
be64 %r1
stxdw [%r10-72], %r1
stxb [%r6], %r1
stxdw [%r10-8], %r8
mov %r9, 5
stxdw [%r10-16], %r8
xor %r2, -436
ldxdw %r1, [%r10-72]
xor %r1, %r2
mul %r1, -0x61c88647
be64 %r1
stxdw [%r10-72], %r1
stxb [%r6], %r1
be16 %r7
lddw %r2, 0x1
add %r8, %r3
ldxdw %r1, [%r10-72]
xor %r1, %r8
mul %r1, -0x61c88647
be64 %r1
stxdw [%r10-72], %r1
stxb [%r6], %r1
stxdw [%r10-64], %r3
sub %r9, 1
jne %r9, 0, -21
mov32 %r5, %r5
stxdw [%r10-24], %r2
mov %r1, 1
mov %r2, 0x1088263d
mov %r3, 7
mov %r4, -0x430
mov %r5, -495
mov %r1, %r10
add %r1, -16
call local +80
mov %r2, 15
mov %r3, 0x2125
mov %r4, 63
mov %r5, -0x2ffaf
mul %r0, -0x61c88647
be64 %r0
xor %r0, %r2
mul %r0, -0x61c88647
be64 %r0
xor %r0, %r3
mul %r0, -0x61c88647
be64 %r0
xor %r0, %r4
mul %r0, -0x61c88647
be64 %r0
xor %r0, %r5
mul %r0, -0x61c88647
be64 %r0
xor %r0, %r7
mul %r0, -0x61c88647
be64 %r0
xor %r0, %r8
mul %r0, -0x61c88647
be64 %r0
xor %r0, %r9
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-8]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-16]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-24]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-32]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-40]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-48]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-56]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-64]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-72]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-80]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-88]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-96]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
ldxdw %r1, [%r10-104]
xor %r0, %r1
mul %r0, -0x61c88647
be64 %r0
exit
mov %r0, 2
mov %r6, 0
mov %r7, -1012
mov %r8, 128
mov %r9, 0xffff
stdw [%r10-8], 255
stdw [%r10-16], -0x12345678
stdw [%r10-24], 2
stdw [%r10-32], -0x12e1
stdw [%r10-40], 32
stdw [%r10-48], 16
stdw [%r10-56], 0x494c4
stdw [%r10-64], -0x412a74e7
mov %r6, %r1
lddw %r2, 0x1
stxdw [%r10+8], %r0
exit
