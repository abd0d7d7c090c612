"""A helper's size argument that may be 0, as the kernel decides it.

The kernel's helper prototypes give each size either ARG_CONST_SIZE, which its verifier
wants at least 1 ("R4 invalid zero-sized read" when the size's range reaches 0), or
ARG_CONST_SIZE_OR_ZERO.  bpfjit's registry had one kind, "size", and strict mode, which
rejects what the kernel rejects, took a size that may be 0 for every helper.  Found by
netobserv's packet-capture program (tc, clang 14), which the kernel refuses for
`bpf_skb_load_bytes(skb, 0, buf, len)` with len in [0, 256]; there bpfjit proves len >=
1 (the program returns when `skb->len` is 0; the kernel loses that through clang's
zero-extension of a copy), so strict mode takes that program still, rightly.  The
registry now tells the two apart (argument kinds "size" and "size_or_zero"), and
strict mode refuses a "size" that may be 0.  Checked mode takes it: the helper answers
a size of 0.

Where this process may load programs, every size argument of every helper is passed a
number in [0, 7] and the kernel's verdict compared with the registry's; the cases
below it were measured so on Linux 6.18 and hold on any machine."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.helpers import KERNEL_HELPERS
from bpfjit.maps import MapSpec, make_map
from context_oracle import kernel_loads_program
from skb_programs import asm_program
from test_helper_availability import TYPES, registry_allows

KERNEL = "kernel" in bpfjit.engines(kernel=True)
SIZE_ARGUMENTS = [(h, i + 1) for h, k in sorted(KERNEL_HELPERS.items())
                  for i, kind in enumerate(k.signature.args) if kind in ("size", "size_or_zero")]
_PERF_EVENT_ARRAY, _RINGBUF, _ARRAY = 4, 27, 2


def probe(helper: int, size_reg: int) -> tuple[str, list]:
    """A program calling `helper` with valid arguments up to the size in r`size_reg`,
    which is a random number & 7 (other sizes 8); the maps it wants, as kernel specs."""
    args = KERNEL_HELPERS[helper].signature.args
    lines = ["mov %r6, %r1"] + [f"stdw [%r10-{o}], 0" for o in range(8, 72, 8)]
    lines += ["call 7", "and %r0, 7", "mov %r7, %r0"]
    maps: list = []
    for reg, kind in enumerate(args[:size_reg], 1):
        if kind in ("ctx", "ctx_or_null"):
            lines.append(f"mov %r{reg}, %r6")
        elif kind == "map":
            maps.append((_PERF_EVENT_ARRAY, 4, 4, 2) if helper == 25 else (_RINGBUF, 0, 0, 4096))
            lines.append(f"lddw %r{reg}, map_by_fd({len(maps) - 1})")
        elif kind == "const_str":
            maps.append("format")
            lines.append(f"lddw %r{reg}, map_val_by_fd({len(maps) - 1}, 0)")
        elif kind in ("size", "size_or_zero"):
            lines.append(f"mov %r{reg}, %r7" if reg == size_reg else f"mov %r{reg}, 8")
        elif kind in ("mem", "mem_or_null", "out", "out_or_null"):
            lines += [f"mov %r{reg}, %r10", f"add %r{reg}, -64"]
        else:
            lines.append(f"mov %r{reg}, 0")
    return "\n".join(lines + [f"call {helper}", "mov %r0, 0", "exit"]), maps


def _kernel_map(spec) -> int:
    if spec != "format":
        return bpfsys.map_create(*spec)
    fd = bpfsys.map_create(_ARRAY, 4, 8, 1, flags=bpfsys.READ_ONLY_PROG)
    bpfsys.map_update(fd, bytes(4), b"%d" + bytes(6))
    bpfsys.map_freeze(fd)
    return fd


def kernel_refuses_zero(helper: int, size_reg: int) -> bool:
    from bpfjit.backends.kerneljit import _with_map_fds
    prog_type, attach = next((t, a) for t, a in TYPES if registry_allows(helper, t, a))
    text, specs = probe(helper, size_reg)
    fds = [_kernel_map(spec) for spec in specs]
    try:
        code = _with_map_fds(bpfjit.assemble(text).to_bytes(), fds)
        bpfsys.close(bpfsys.prog_load(code, prog_type, attach=attach))
    except bpfjit.VerifierError as exc:
        return f"R{size_reg} invalid zero-sized read" in str(exc)
    finally:
        for fd in fds:
            bpfsys.close(fd)
    return False


def test_the_registry_allows_zero_where_the_kernel_does():
    if not KERNEL:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    differ = [(KERNEL_HELPERS[h].name, reg) for h, reg in SIZE_ARGUMENTS
              if (KERNEL_HELPERS[h].signature.args[reg - 1] == "size")
              != kernel_refuses_zero(h, reg)]
    assert differ == []


@pytest.mark.parametrize("helper, reg, kind", [
    (26, 4, "size"), (189, 4, "size"), (9, 4, "size"), (16, 2, "size"), (6, 2, "size"),
    (177, 2, "size"), (177, 4, "size_or_zero"), (25, 5, "size_or_zero"),
    (130, 3, "size_or_zero"), (113, 2, "size_or_zero"), (28, 2, "size_or_zero"),
    (28, 4, "size_or_zero"), (84, 3, "size_or_zero"), (165, 5, "size_or_zero"),
])
def test_measured_cases(helper, reg, kind):
    assert KERNEL_HELPERS[helper].signature.args[reg - 1] == kind


# bpf_skb_load_bytes(skb, 0, fp-8, len) with len = skb->len & 7 (0 to 7), or that + 1
LOAD_BYTES = """
    ldxw %r4, [%r1+0]
    and %r4, 7
    {plus}
    mov %r2, 0
    mov %r3, %r10
    add %r3, -8
    call 26
    mov %r0, 0
    exit
"""


def tc_program(text: str, maps=()) -> bpfjit.Program:
    return asm_program(text, "skb", "sched_cls", maps)


def test_strict_mode_refuses_a_size_that_may_be_zero():
    prog = tc_program(LOAD_BYTES.format(plus=""))
    with pytest.raises(bpfjit.VerifierError, match="zero-sized"):
        bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)
    bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)     # checked: taken


def test_strict_mode_takes_a_size_of_at_least_one():
    prog = tc_program(LOAD_BYTES.format(plus="add %r4, 1"))
    bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)


def test_strict_mode_takes_zero_where_the_kernel_does():
    # bpf_ringbuf_output(map, fp-8, skb->len & 7, 0)
    ring = make_map(MapSpec("events", _RINGBUF, 0, 0, 4096))
    prog = tc_program("""
        ldxw %r3, [%r1+0]
        and %r3, 7
        stdw [%r10-8], 0
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -8
        mov %r4, 0
        call 130
        mov %r0, 0
        exit
    """, [ring])
    bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)


def test_a_helper_of_ones_own_says_which():
    with pytest.raises(bpfjit.BpfError, match="size_or_zero"):
        bpfjit.Helper(lambda *a: 0, args=("out", "any"))
    assert bpfjit.Helper(lambda *a: 0, args=("mem", "size_or_zero")).signature.args[1] \
        == "size_or_zero"


# Calico's ICMP reply (tc, clang 19): len = min(end - off, 128) by 32-bit arithmetic:
# `w1 = total; w1 -= off` where off < total is known, `w9 = 128; if w1 s> 127 goto
# keep; w9 = w1; keep: if w1 s< 1 goto out`, then bpf_skb_load_bytes(skb, off, buf, w9).
# The kernel's 32-bit signed bounds give w9 in [1, 128]; bpfjit's 32-bit subtraction
# gave [0, 2^32 - 1] (it may wrap, as far as the intervals tell), so the size could be
# 0.  The order of the operands (off <= total - 1, in the zone) says it does not wrap:
# the difference is at least 1.
# r6 = skb->len & 0x7ff (total), r8 = skb->mark & 0x3ff (off), r8 < r6 tested first
CLAMPED = """
    mov %r7, %r1
    ldxw %r6, [%r1+0]
    and %r6, 0x7ff
    ldxw %r8, [%r1+8]
    and %r8, 0x3ff
    jge %r8, %r6, out
    mov32 %r1, %r6
    sub32 %r1, %r8
    mov32 %r9, 128
    jsgt32 %r1, 127, keep
    mov32 %r9, %r1
keep:
    jslt32 %r1, 1, out
    mov %r1, %r7
    mov32 %r2, %r8
    mov %r3, %r10
    add %r3, -128
    mov32 %r4, %r9
    call 26
out:
    mov %r0, 0
    exit
"""


# Calico's fragment handler (tc, clang 19) tests a 32-bit difference that may wrap with
# signed 32-bit comparisons: `if w9 s< 1 goto out` leaves w9 (zero-extended, so at most
# 2^32 - 1) in [1, 2^31 - 1], which the kernel's 32-bit signed bounds see and bpfjit's
# intervals of the 64-bit value did not (it learned nothing from a 32-bit signed test
# of a value whose range crosses 2^31).  Then `if w9 > 64 goto out` bounds it above.
# r9 = (skb->len - skb->mark) mod 2^32; bpf_skb_load_bytes(skb, 0, fp-64, r9) for 1..64
SIGNED_TEST = """
    mov %r7, %r1
    ldxw %r2, [%r1+0]
    ldxw %r8, [%r1+8]
    sub32 %r2, %r8
    mov32 %r9, %r2
    jslt32 %r9, 1, out
    jgt %r9, 64, out
    mov %r1, %r7
    mov %r2, 0
    mov %r3, %r10
    add %r3, -64
    mov32 %r4, %r9
    call 26
out:
    mov %r0, 0
    exit
"""


@pytest.mark.parametrize("text", [CLAMPED, SIGNED_TEST], ids=["clamped", "signed test"])
def test_the_size_is_proven_at_least_one(text):
    # CLAMPED: a difference of ordered numbers does not wrap; SIGNED_TEST: a 32-bit
    # signed test bounds a zero-extended number
    prog = tc_program(text)
    bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)
    assert kernel_loads_program(prog, "sched_cls") in (True, None)


@pytest.mark.parametrize("op, c, lo, hi", [
    ("jslt32", 1, 1, 0x7FFFFFFF),            # not taken: s32 >= 1
    ("jsle32", 0, 1, 0x7FFFFFFF),            # not taken: s32 > 0
    ("jsgt32", -1, 0x80000000, 0xFFFFFFFF),  # not taken: s32 <= -1
    ("jsge32", -5, 0x80000000, 0xFFFFFFFA),  # not taken: s32 < -5
])
def test_what_a_signed_32_bit_test_leaves(op, c, lo, hi):
    # r0 = skb->len (any 32-bit number); the fall-through of `op r0, c` leaves r0 in
    # [lo, hi]; then r0 is tested against both ends (zero-extended constants), tests
    # the verifier decides: `bad` is never reached
    text = f"""
        ldxw %r0, [%r1+0]
        {op} %r0, {c}, out
        mov32 %r2, {lo}
        jlt %r0, %r2, bad
        mov32 %r2, {hi}
        jgt %r0, %r2, bad
        mov %r0, 0
        exit
    bad:
        mov %r0, 1
    out:
        mov %r0, 0
        exit
    """
    prog = tc_program(text)
    verified = bpfjit.verify(prog, cache=False, log=True)
    assert 8 in verified.unreachable          # `bad`
