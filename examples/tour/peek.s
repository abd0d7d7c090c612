# Read the fourth byte of the buffer without looking at its length first.  Checked
# mode accepts it and checks the access at run time; strict mode, like the kernel,
# rejects it: nothing proves the buffer has four bytes.
    ldxb %r0, [%r1+3]
    exit
