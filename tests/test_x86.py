"""What only the PeachPy backend has: register maps, the template assembler, fusion of
common instruction runs, branch sizing and its code listing.  Its semantics are held
to the shared engine tests (and `--register-rotations N` runs those under other maps)."""

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit
from bpfjit.errors import BpfError

pytestmark = pytest.mark.skipif("peachpy" not in bpfjit.engines(),
                                reason="PeachPy is not installed")
PROGRAMS = Path(__file__).parent.parent / "bench" / "programs"
U64 = 2**64


def x86():
    from bpfjit.backends import x86 as module
    return module


# ---- register maps ------------------------------------------------------------------------

def test_default_map_puts_arguments_where_the_c_abi_wants_them():
    regs = x86().register_map(0)
    assert regs[1:6] == ("rdi", "rsi", "rdx", "rcx", "r8")          # SysV argument order
    assert set(regs[6:11]) <= {"rbx", "rbp", "r12", "r13", "r14", "r15"}   # callee-saved


def test_every_rotation_is_a_permutation_and_they_differ():
    maps = [x86().register_map(k) for k in range(x86().ROTATIONS)]
    assert all(sorted(m) == sorted(maps[0]) for m in maps)
    assert len(set(maps)) == x86().ROTATIONS
    # each BPF register visits every x86 register once over all rotations
    assert {m[0] for m in maps} == set(maps[0])


def test_registers_option_must_be_a_permutation():
    with pytest.raises(BpfError, match="permutation"):
        bpfjit.compile(bpfjit.assemble("mov %r0, 0\nexit"), "peachpy",
                       registers=("rax",) * 11)


# ---- aliasing matrix: every (dst, src) pair, under several maps ---------------------------

def _s(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _trunc_div(x, y):                  # signed division truncates towards zero
    q = abs(x) // abs(y)
    return q if (x < 0) == (y < 0) else -q


def reference(op, bits, a, b):
    """RFC 9669 for dst op= src at `bits`, written for this test (result zero-extended)."""
    m = (1 << bits) - 1
    a, b = a & m, b & m
    if op == "div":
        r = a // b if b else 0
    elif op == "mod":
        r = a % b if b else a
    elif op == "sdiv":
        r = _trunc_div(_s(a, bits), _s(b, bits)) if b else 0
    elif op == "smod":
        r = _s(a, bits) - _trunc_div(_s(a, bits), _s(b, bits)) * _s(b, bits) if b else a
    elif op == "lsh":
        r = a << (b & (bits - 1))
    elif op == "rsh":
        r = a >> (b & (bits - 1))
    else:                               # arsh
        r = _s(a, bits) >> (b & (bits - 1))
    return r & m


# (dst value, src value) per operation: the divisor 0, INT_MIN / -1, counts past the width
VALUES = {
    "div": [(0xFFFF_FFFF_8000_0005, 0), (0xFFFF_FFFF_8000_0005, 7)],
    "mod": [(0xFFFF_FFFF_8000_0005, 0), (0xFFFF_FFFF_8000_0005, 7)],
    "sdiv": [(1 << 63, U64 - 1), (0xFFFF_FFFF_8000_0000, U64 - 1), (-77 % U64, 0),
             (-77 % U64, 10)],
    "smod": [(1 << 63, U64 - 1), (0xFFFF_FFFF_8000_0000, U64 - 1), (-77 % U64, 0),
             (-77 % U64, 10)],
    "lsh": [(0x8000_0001_8000_0001, 65), (0x8000_0001_8000_0001, 0xFFFF_FFFF_FFFF_FF21)],
    "rsh": [(0x8000_0001_8000_0001, 65), (0x8000_0001_8000_0001, 0xFFFF_FFFF_FFFF_FF21)],
    "arsh": [(0x8000_0001_8000_0001, 65), (0x8000_0001_8000_0001, 0xFFFF_FFFF_FFFF_FF21)],
}
OTHER = [0x1111_1111_0000_0000 * (i + 1) + i for i in range(10)]   # bystander registers
REGS = range(10)


@functools.lru_cache(maxsize=None)
def matrix_program(op, bits, d, s, pairs):
    """Set r0-r9, apply `op` to (rd, rs) for each value pair, store all ten registers.
    One Program per arguments, so that its verdict (kept on it) serves every register
    rotation and both shift encodings, which compile it afresh."""
    suffix = "32" if bits == 32 else ""
    lines = ["stxdw [%r10-8], %r1"]                       # keep the buffer's address
    for k, (a, b) in enumerate(pairs):
        for i in REGS:
            value = a if i == d else b if i == s else OTHER[i]
            lines.append(f"lddw %r{i}, {value:#x}")
        lines.append(f"{op}{suffix} %r{d}, %r{s}")
        for i in REGS:
            lines.append(f"stxdw [%r10-{8 * (i + 2)}], %r{i}")
        lines.append("ldxdw %r1, [%r10-8]")
        for i in REGS:
            lines.append(f"ldxdw %r2, [%r10-{8 * (i + 2)}]")
            lines.append(f"stxdw [%r1+{8 * (10 * k + i)}], %r2")
    lines += ["mov %r0, 0", "exit"]
    return bpfjit.assemble("\n".join(lines))


def expected_registers(op, bits, d, s, a, b):
    regs = [OTHER[i] for i in REGS]
    regs[s] = b
    regs[d] = a
    regs[d] = reference(op, bits, regs[d], regs[s])
    return regs


@pytest.mark.parametrize("rotation", [0, 4, 8])
@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("op,bmi2", [(op, None) for op in sorted(VALUES)] +
                         [(op, False) for op in ("arsh", "lsh", "rsh")])
def test_division_and_shifts_with_every_register_pair(op, bmi2, bits, rotation, monkeypatch):
    # shifts by a register use BMI2's shlx/shrx/sarx where the CPU has them: the count
    # through cl is forced (bmi2=False) so that both ways are tested on this machine
    if bmi2 is not None:
        from bpfjit.backends import x86alu
        monkeypatch.setattr(x86alu, "BMI2", bmi2)
    registers = x86().register_map(rotation)
    pairs = VALUES[op]
    for d in REGS:
        for s in REGS:
            prog = matrix_program(op, bits, d, s, tuple(pairs))
            mem = bytearray(80 * len(pairs))
            bpfjit.compile(prog, "peachpy", registers=registers, cache=bmi2 is None)(mem)
            for k, (a, b) in enumerate(pairs):
                got = [int.from_bytes(mem[80 * k + 8 * i:80 * k + 8 * i + 8], "little")
                       for i in REGS]
                if d == s:
                    b = a
                assert got == expected_registers(op, bits, d, s, a, b), \
                    f"{op}{bits} r{d}, r{s} with {a:#x}, {b:#x} under {registers}"


@pytest.mark.parametrize("rotation", range(11))
def test_atomics_with_r0_and_the_source_anywhere(rotation):
    # cmpxchg compares with r0, which x86 wants in rax; fetch-or needs rax for its loop
    text = """
        stxdw [%r10-16], %r1
        lddw %r0, 0x1122334455667788
        stxdw [%r1], %r0
        mov %r2, 0x0f
        lock fetch or [%r1], %r2          # r2 = old, mem |= 0x0f
        lddw %r3, 0x1122334455667788
        lock fetch xor32 [%r1+8], %r3     # mem[8..12] starts 0: r3 = 0, then xor
        lddw %r0, 0x112233445566778f
        mov %r4, 99
        lock cmpxchg [%r1], %r4           # matches: mem = 99, r0 = old
        mov %r5, %r0
        mov %r0, 1
        lock cmpxchg32 [%r1], %r4         # 99 != 1: no store, r0 = 99 (zero-extended)
        add %r0, %r2
        add %r0, %r3
        add %r0, %r5
        exit
    """
    mem = bytearray(16)
    fn = bpfjit.compile(bpfjit.assemble(text), "peachpy",
                        registers=x86().register_map(rotation))
    old = 0x1122334455667788
    # r0 = 99 + old (from fetch or) + 0 (fetch xor32 of a zero word) + (old | 0x0f)
    assert fn(mem) == (99 + old + 0 + (old | 0x0F)) % U64
    assert int.from_bytes(mem[:8], "little") == 99
    assert int.from_bytes(mem[8:12], "little") == 0x55667788


@pytest.mark.parametrize("rotation", range(11))
def test_helper_calls_keep_r6_to_r10_under_every_map(rotation):
    text = """
        mov %r6, 6
        mov %r7, 7
        mov %r8, 8
        mov %r9, 9
        stdw [%r10-8], 10
        mov %r1, 1
        mov %r2, 2
        mov %r3, 3
        mov %r4, 4
        mov %r5, 5
        call 1
        ldxdw %r1, [%r10-8]
        mul %r0, 1000
        add %r0, %r6
        add %r0, %r7
        add %r0, %r8
        add %r0, %r9
        add %r0, %r1
        exit
    """
    seen = []

    def helper(*args):
        seen.append(args)
        return 12345

    fn = bpfjit.compile(bpfjit.assemble(text), "peachpy", helpers={1: helper},
                        registers=x86().register_map(rotation))
    assert fn() == 12345 * 1000 + 6 + 7 + 8 + 9 + 10
    assert seen == [(1, 2, 3, 4, 5)]


@pytest.mark.parametrize("rotation", range(11))
def test_local_calls_keep_r6_to_r9_under_every_map(rotation):
    text = """
        mov %r6, 60
        mov %r9, 90
        mov %r1, 5
        call local f
        add %r0, %r6
        add %r0, %r9
        exit
    f:
        mov %r6, %r1
        mov %r9, 1000
        stxdw [%r10-8], %r9
        ldxdw %r0, [%r10-8]
        add %r0, %r6
        exit
    """
    fn = bpfjit.compile(bpfjit.assemble(text), "peachpy", registers=x86().register_map(rotation))
    assert fn() == 1000 + 5 + 60 + 90


# ---- fusion of instruction runs -------------------------------------------------------------

def listing(prog_text: str) -> str:
    fn = bpfjit.compile(bpfjit.assemble(prog_text), "peachpy")
    from bpfjit.nativedis import native_listing
    return native_listing(fn.program, fn.memory.code, fn.memory.address,
                          fn.extra["symbols"], fn.extra["lines"])


def lines_by_pc(prog_text: str) -> dict[int, list[str]]:
    """The listing's lines of machine code under each pc's mark (a pc lowered twice, in
    a loop's checked and fast copies, has both copies' lines; the entry, exit and trap
    code is under none)."""
    found: dict[int, list[str]] = {}
    lines = None
    for line in listing(prog_text).splitlines():
        mark = re.match(r"\s*; (\d+):", line)
        if mark:
            lines = found.setdefault(int(mark.group(1)), [])
        elif line.lstrip().startswith("; ("):
            lines = None
        elif lines is not None:
            lines.append(line)
    return found


@pytest.mark.parametrize("text,expected", [
    # mov; add imm; add reg -> one lea: r3 = r10 - 16 + 8, then the load reads [r10-8]
    ("stdw [%r10-8], 77\nmov %r2, 8\nmov %r3, %r10\nadd %r3, -16\nadd %r3, %r2\n"
     "ldxdw %r0, [%r3]\nexit", 77),
    # the same without the load: r3 must hold the address itself (compare with r10 - 8)
    ("mov %r2, 8\nmov %r3, %r10\nadd %r3, -16\nadd %r3, %r2\nmov %r0, %r10\nsub %r0, %r3\n"
     "exit", 8),
    ("mov %r1, 100\nmov %r0, %r1\nsub %r0, 58\nexit", 42),
    ("mov %r1, 40\nmov %r2, 2\nmov %r0, %r1\nadd %r0, %r2\nexit", 42),
    # lsh 32; rsh 32 is a zero-extension
    ("lddw %r0, 0xdeadbeef12345678\nlsh %r0, 32\nrsh %r0, 32\nexit", 0x12345678),
    # a load through the fused address from the buffer: bytes 2..3 of 00 01 02 03 04
    ("mov %r2, 2\nmov %r3, %r1\nadd %r3, %r2\nldxh %r0, [%r3]\nexit", 0x0302),
    # not fused across a jump target: the add is reached on its own from the jeq
    ("mov %r2, 1\nmov %r0, 5\njeq %r2, 1, +1\nmov %r0, %r2\nadd %r0, 10\nexit", 15),
])
def test_fused_runs_compute_what_the_instructions_do(text, expected):
    mem = bytearray(range(5))
    assert bpfjit.compile(bpfjit.assemble(text), "peachpy")(mem) == expected
    assert bpfjit.compile(bpfjit.assemble(text), "interp")(bytearray(range(5))) == expected


def test_address_arithmetic_becomes_one_lea():
    out = listing("mov %r2, 8\nmov %r3, %r10\nadd %r3, -16\nadd %r3, %r2\nmov %r0, %r3\nexit")
    assert "lea rdx, [rbp + rsi - 0x10]" in out


def test_a_checked_load_is_not_folded_into_its_address():
    # the buffer's length is unknown, so [r3] needs a run-time check and keeps its own code
    text = "ldxb %r2, [%r1]\nmov %r3, %r1\nadd %r3, %r2\nldxb %r0, [%r3]\nexit"
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        bpfjit.compile(bpfjit.assemble(text), "peachpy")(bytearray([200, 1]))
    assert info.value.pc == 3


def test_checked_accesses_the_verifier_did_not_reach_still_find_their_bounds():
    # the run-time bounds of checked accesses were set up only for the sizes of accesses
    # the verifier reached; code it wrongly thought unreachable (as a recursion bug once
    # made it think) then compared against a slot nothing had written, and trapped on a
    # valid stack access or not, depending on what the native stack held.  (Three
    # slots: a region this small is emitted, bpfjit.cfg.elided_code)
    from dataclasses import replace
    prog = bpfjit.assemble("stdw [%r10-8], 7\nldxdw %r0, [%r10-8]\nexit")
    verified = replace(bpfjit.verify(prog), proven=frozenset(), accesses=(),
                       regions={}, unreachable=(0, 1, 2))
    from bpfjit.backends.x86jit import compile_x86
    fn = compile_x86(verified)
    assert fn() == 7


# ---- branches, listing ---------------------------------------------------------------------

def test_near_branches_are_two_bytes_and_far_ones_grow():
    # (tested on the length, 0 here: code the verifier finds unreachable makes no code)
    near = "mov %r0, 1\njeq %r2, 0, +1\nmov %r0, 2\nexit"
    far = "mov %r0, 1\njeq %r2, 0, +40\n" + "lddw %r0, 0x1122334455667788\n" * 20 + "exit"
    assert bpfjit.compile(bpfjit.assemble(near), "peachpy")() == 1
    assert bpfjit.compile(bpfjit.assemble(far), "peachpy")() == 1
    near_code, far_code = listing(near), listing(far)
    # a rel8 jcc encodes in 2 bytes: its address and the next one differ by 2
    assert _jcc_length(near_code) == 2
    assert _jcc_length(far_code) == 6           # 0f 8x rel32: 20 movabs are 200 bytes away


def _jcc_length(text: str) -> int:
    program = text.split("<bpf_sub_0>:", 1)[1]
    lines = [line.strip() for line in program.splitlines() if line.strip().startswith("0x")]
    for here, after in zip(lines, lines[1:]):
        if " je " in f" {here.split(': ', 1)[1]} ":
            return int(after.split(":")[0], 16) - int(here.split(":")[0], 16)
    raise AssertionError("no je in the listing")


def test_disasm_native_interleaves_bpf_and_x86():
    proc = subprocess.run([sys.executable, "-m", "bpfjit", "disasm", "--native", "--engine",
                           "peachpy", str(PROGRAMS / "xorshift.s")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "<bpf_entry>:" in out and "<bpf_sub_0>:" in out
    assert "; 5: lsh %r3, 13" in out
    after = out.split("; 5: lsh %r3, 13", 1)[1].splitlines()[1]
    assert "shl rdx, 0xd" in after                 # r3 lives in rdx


def test_compile_reports_its_time():
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 0\nexit"), "peachpy")
    assert fn.extra["compile_ns"] > 0


def test_loop_heads_start_a_32_byte_window():
    # a tight loop ran up to 2.7x slower depending on the length of the code before it
    text = "mov %r0, 0\nmov %r2, 100\nloop:\nadd %r0, %r2\nsub %r2, 1\njne %r2, 0, loop\nexit"
    fn = bpfjit.compile(bpfjit.assemble(text), "peachpy")
    assert fn() == sum(range(1, 101))
    head = [offset for offset, pc in fn.extra["lines"] if pc == 2]
    assert head and head[0] % 32 == 0
    assert fn.memory.address % 32 == 0
