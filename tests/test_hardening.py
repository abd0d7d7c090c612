"""Hardening for untrusted programs: no mapping of a process that uses bpfjit is ever
writable and executable at once.  (JIT code reaches Python helpers and the trap
reporter through trampolines bpfjit writes into W^X memory, bpfjit.pycall, not
through libffi closures, which live in writable and executable pages.)"""

import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import bpfjit
from bpfjit.pycall import PythonEntries
from bpfjit.native import ffi

ELF = Path(__file__).parent / "elf"

# run in a fresh interpreter: the test process may hold pages other libraries mapped
SCRIPT = textwrap.dedent("""
    import struct, sys
    import bpfjit
    engines, elf = sys.argv[1].split(","), sys.argv[2]
    doubled = bpfjit.assemble("mov r1, 21\\ncall 1000\\nexit")
    raising = bpfjit.assemble("call 1001\\nexit")
    out_of_bounds = bpfjit.assemble("ldxb r0, [r1+100]\\nexit")
    for engine in engines:
        fn = bpfjit.compile(doubled, engine, helpers={1000: lambda r1, *rest: 2 * r1})
        assert fn() == 42
        fn = bpfjit.compile(raising, engine, helpers={1001: lambda *a: 1 // 0})
        try:
            fn()
            raise AssertionError("no HelperError")
        except bpfjit.HelperError:
            pass
        try:
            bpfjit.compile(out_of_bounds, engine)(b"x")
            raise AssertionError("no MemoryAccessError")
        except bpfjit.MemoryAccessError:
            pass
        prog = bpfjit.load_elf(elf + "/globals.o")      # the kernel's trace_printk
        fn = bpfjit.compile(prog, engine)
        fn(bpfjit.XdpContext(bytes(64)))
        assert len(prog.trace) == 1
    for line in open("/proc/self/maps"):
        if "w" in line.split()[1] and "x" in line.split()[1]:
            print(line, end="")
""")


def test_no_mapping_is_ever_writable_and_executable():
    engines = bpfjit.engines()
    proc = subprocess.run([sys.executable, "-c", SCRIPT, ",".join(engines), str(ELF)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", f"writable and executable mappings:\n{proc.stdout}"


# ---- the trampolines themselves -------------------------------------------------------------

CALL6 = "uint64_t(*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t)"


def test_trampolines_pass_six_arguments_and_return_the_result():
    got = []

    def first(*args):
        got.append(args)
        return sum(args) + 2**64 + 5          # masked to 64 bits on the way back

    def second(a, b, c, d, e, f):
        return a - b                           # negative: two's complement
    entries = PythonEntries([first, second])
    one, two = (ffi.cast(CALL6, entries.address(i)) for i in (0, 1))
    top = 2**64 - 1
    assert one(1, 2, 3, 4, 5, top) == (1 + 2 + 3 + 4 + 5 + top + 5) % 2**64
    assert got == [(1, 2, 3, 4, 5, top)]
    assert two(3, 10, 0, 0, 0, 0) == 2**64 - 7
    with pytest.raises(IndexError):
        entries.address(2)


def test_a_failed_call_returns_zero_and_sets_the_run_trap(monkeypatch):
    """When Python cannot return an int (here: a result that is not one, or a callable
    that is not one), the trampoline reports the exception as unraisable, returns 0
    and, for helpers, marks the run structure (its sixth argument) with the
    HELPER_FAILED trap (code 5); or notes the failing thread where Python can see it."""
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    entries = PythonEntries([lambda *args: "not an int"], run_arg=True)
    run = ffi.new("struct bpfjit_run *")
    call = ffi.cast(CALL6, entries.address(0))
    assert call(1, 2, 3, 4, 5, int(ffi.cast("uintptr_t", run))) == 0
    assert run.trap == 5
    assert [type(r.exc_value) for r in reported] == [TypeError]
    noted = PythonEntries([None], note_failures=True)              # (not callable)
    assert noted.failed_thread[0] == 0
    assert ffi.cast(CALL6, noted.address(0))(0, 0, 0, 0, 0, 0) == 0
    assert noted.failed_thread[0] == threading.get_ident()


def test_a_helper_python_cannot_call_stops_the_program(engine, monkeypatch):
    """If Python fails before the helper's own code runs (here: the table holds
    something that is not callable; in life, a RecursionError), the program stops at
    the call with a HelperError, as when the helper raises, instead of going on with
    r0 = 0; the exception is reported as unraisable."""
    if engine == "interp":
        pytest.skip("the interpreter calls helpers from Python")
    from bpfjit.runtime import HelperTable
    monkeypatch.setattr(HelperTable, "_wrap", lambda self, hid, fn, see_run: None)
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    prog = bpfjit.assemble("mov r1, 1\ncall 1000\nmov r0, 7\nexit")
    fn = bpfjit.compile(prog, engine, helpers={1000: lambda *args: 1}, cache=False)
    with pytest.raises(bpfjit.HelperError, match="pc 1"):
        fn()
    assert [type(r.exc_value) for r in reported] == [TypeError]


def test_at_the_recursion_limit_a_run_never_returns_a_wrong_value(engine):
    """Called ever deeper until Python's recursion limit, a program whose helper and
    trap report are Python calls either returns its value or raises: a report that
    could not reach Python (a RecursionError in the trampoline) is an error, not the
    TRAPPED marker passed off as the program's result."""
    if engine == "interp":
        pytest.skip("the interpreter calls helpers from Python")
    prog = bpfjit.assemble("mov r1, 1\ncall 1000\nmov r0, 7\nexit")
    fn = bpfjit.compile(prog, engine, helpers={1000: lambda *args: 1}, cache=False)
    outcomes = set()

    def deep(n):
        if n:
            return deep(n - 1)
        try:
            outcomes.add(fn())
        except (bpfjit.BpfError, RecursionError) as exc:
            outcomes.add(type(exc))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(__import__("inspect").stack()) + 60)
    try:
        for depth in range(80):
            try:
                deep(depth)
            except RecursionError:
                outcomes.add("too deep to call")
    finally:
        sys.setrecursionlimit(limit)
    assert 7 in outcomes and "too deep to call" in outcomes
    assert outcomes <= {7, bpfjit.HelperError, bpfjit.BpfError, RecursionError,
                        "too deep to call"}, outcomes


# ---- constant blinding ---------------------------------------------------------------------

SPRAY = """
ldxdw r0, [r1+0]
ldxdw r3, [r1+8]
add r0, 0x45464748
jeq r0, 0x494a4b4c, +1
xor r0, 0x4d4e4f50
stw [r1+16], 0x51525354
sth [r1+20], 0x050f
mul r3, 0x41424344
add r0, r3
mov32 r4, 0x56575859
add r0, r4
div r0, 0x0b0c0d0e
lddw r2, 0x5a5b5c5d5e5f6061
xor r0, r2
exit
"""
# every 4-byte pattern the program chose (lddw: both halves), and sth's 2-byte `syscall`;
# and the halves of what the division derives from its divisor d = 0x0b0c0d0e, the
# rounded-up reciprocal a JIT may multiply by instead: 2**(64 + 28) // d - 2**64 + 1
# (28 = ceil(log2 d)) = 0x72c6e35c4baaa57f
CHOSEN = [struct.pack("<I", v) for v in (0x45464748, 0x494a4b4c, 0x4d4e4f50, 0x51525354,
                                          0x41424344, 0x56575859, 0x0b0c0d0e, 0x5e5f6061,
                                          0x5a5b5c5d, 0x72c6e35c, 0x4baaa57f)] + [b"\x0f\x05"]


def _chosen_in_code(fn) -> list:
    code = bytes(fn.memory.code)
    return [pattern for pattern in CHOSEN if pattern in code]


def test_no_chosen_constant_reaches_executable_memory(engine):
    """Checked mode blinds by default: none of the program's immediates is in its
    machine code, and it computes what the interpreter computes.  Without blinding
    (blind=False, or unchecked mode) they are there: the scan would see them."""
    if engine in ("interp", "kernel"):
        pytest.skip("machine code of bpfjit's own JITs only")
    prog = bpfjit.assemble(SPRAY)
    memory = struct.pack("<QQQ", 123456789123, 987654321, 0)
    reference = bytearray(memory)
    expected = bpfjit.compile(prog, "interp")(reference)
    fn = bpfjit.compile(prog, engine, cache=False)
    out = bytearray(memory)
    assert fn(out) == expected and out == reference
    # the blinded values are random bytes, which hold a given 2-byte pattern about once
    # in 700 compiles (seen: `mov ecx, 0x050f3439`); a chosen pattern is in every
    # compile, a chance one not in the next (with new keys)
    again = bpfjit.compile(prog, engine, cache=False)
    assert set(_chosen_in_code(fn)) & set(_chosen_in_code(again)) == set()
    assert len(_chosen_in_code(bpfjit.compile(prog, engine, cache=False, blind=False))) >= 8
    assert len(_chosen_in_code(bpfjit.compile(prog, engine, cache=False,
                                              mode="unchecked"))) >= 8


def test_which_immediates_are_blinded():
    from bpfjit.blinding import blinding_enabled, needs_blinding
    # two or more chosen bytes: blinded
    for value in (0x050F, 0xD0FF, 0xEDB88320, 0x01000193, -0x6F44CF5C, 0x1234):
        assert needs_blinding(value, 32), hex(value)
    # a sign-extended byte, one non-zero byte, only 0x00 / 0xff bytes: not
    for value in (0, 1, -1, 127, -128, 0x80, 0xFF, 0xC300, 0xFF000000, 0xFFFF, -256,
                  0xFF00FF):
        assert not needs_blinding(value, 32), hex(value)
    assert needs_blinding(0x5A5B5C5D00000000, 64) and not needs_blinding(-2, 64)
    # a frame offset down to -512: one chosen byte, then 0xfe or 0xff and 0xff bytes,
    # whose pairs (`xx fe`, `xx ff`: ModRM picks two registers; `fe ff`, `ff ff`:
    # undefined) are no instruction worth spraying, as a load's 16-bit offset is not
    for value in (-129, -255, -384, -400, -512):
        assert not needs_blinding(value, 32) and not needs_blinding(value, 64), value
    for value in (-513, -0x1234, 0xFE80, 0xFFFE80):
        assert needs_blinding(value, 32), hex(value)
    # a mask, one run of ones (clang's `r2 &= 0xffffffe0` before `r2 >>= 5`, a u32's
    # shift in a 64-bit register): its bytes are 0x00, 0xff, one of 80 c0 e0 f0 f8 fc
    # fe below the 0xff bytes and one of 01 03 07 0f 1f 3f 7f above them; not blinded,
    # but for a 0x1f after an 0xff byte (`ff 1f` is `call far [rdi]`)
    for value, bits in ((0xFFFFFFE0, 32), (0xFFFFFFE0, 64), (0x7FFFFFFF, 32),
                        (0xFFFF8000, 32), (0x3FC, 32), (0x3FFF, 32), (0xFFF00000, 64),
                        (0xFFFFFFFFFFFF8000, 64), (0xFFFFFFFC00000000, 64), (0x1FE0, 32)):
        assert not needs_blinding(value, bits), hex(value)
    for value in (0x1FFF, 0x1FFFFF00, 0x0FF0F0, 0x3FD):
        assert needs_blinding(value, 32), hex(value)
    assert blinding_enabled(None, "checked") and blinding_enabled(None, "strict")
    assert not blinding_enabled(None, "unchecked") and blinding_enabled(True, "unchecked")
    with pytest.raises(bpfjit.BpfError, match="blind"):
        blinding_enabled("yes", "checked")


def test_a_blinded_constant_is_made_where_it_is_used():
    # llvm: the constant of a path a run may not take, in no loop, is made in that
    # path's block, not in the function's entry block, where every run paid for it
    # (github/glb-director's 13 SipHash constants, all made and spilled on each run,
    # its packets that pass included); a loop's are made ahead, once
    if "llvm" not in bpfjit.engines():
        pytest.skip("the llvm engine is not available")
    prog = bpfjit.assemble("""
        ldxb r2, [r1]
        mov r0, 0
        jeq r2, 0, out
        lddw r0, 0x1122334455667788
        xor r0, r2
    out:
        exit
    """)
    fn = bpfjit.compile(prog, "llvm", keep_ir=True, cache=False)
    body = fn.extra["ir"].split('define internal ghccc {i64, i64} @"bpf_sub_0"')[1]
    blocks = {}
    for chunk in body.split('\n"')[1:]:
        label, _, text = chunk.partition('":')
        blocks[label] = text
    made_in = [label for label, text in blocks.items() if 'asm ""' in text]
    assert made_in == ["pc3"]                     # the lddw's block, not "entry"
    assert fn(bytes([0]) + bytes(7)) == 0
    assert fn(bytes([5]) + bytes(7)) == 0x1122334455667788 ^ 5
    # in a loop (counting r2 down from the buffer's first byte), made ahead
    looped = bpfjit.compile(bpfjit.assemble("""
        ldxb r2, [r1]
        mov r0, 0
    top:
        jeq r2, 0, out
        jgt r2, 200, skip
        lddw r3, 0x1122334455667788
        xor r0, r3
    skip:
        sub r2, 1
        ja top
    out:
        exit
    """), "llvm", keep_ir=True, cache=False)
    entry = looped.extra["ir"].split('define internal ghccc {i64, i64} @"bpf_sub_0"')[1]
    entry = entry.split('\n"')[1]
    assert entry.startswith('entry":') and 'asm ""' in entry
    assert looped(bytes([3]) + bytes(7)) == 0x1122334455667788     # three XORs


BLINDED_EDGES = [
    # (program, the u64 in the buffer, r0 worked out by hand); every immediate is one
    # blinding takes
    ("mov32 r0, -0x12345678\nexit", 0, 0xEDCBA988),                 # zero-extended
    ("mov r0, -0x12345678\nexit", 0, 2**64 - 0x12345678),           # sign-extended
    ("ldxdw r0, [r1]\nadd32 r0, 0x7fff1234\nexit", 5, 0x7FFF1239),
    ("ldxdw r0, [r1]\nsdiv r0, -0x10001\nexit", 5_000_000, 2**64 - 76),  # 76.29 -> -76
    ("ldxdw r0, [r1]\nmod32 r0, 0x10003\nexit", 5_000_000, 5_000_000 - 76 * 0x10003),
    ("ldxdw r0, [r1]\njsgt r0, -0x1234567, +1\nmov r0, 0\nexit", 5_000_000, 5_000_000),
]


@pytest.mark.parametrize("text, value, want", BLINDED_EDGES)
def test_blinded_immediates_keep_their_extension_and_division_semantics(engine, text,
                                                                        value, want):
    fn = bpfjit.compile(bpfjit.assemble(text), engine, cache=False)
    assert fn(bytearray(struct.pack("<Q", value))) == want


# ---- a loop's blinded constants (peachpy: made once per run into the frame's pool) -------

LOOPED_SPRAY = """
    ldxb r2, [r1]
    mov r0, 0
    mov r6, 0
    mov r9, 0
top:
    add r0, 0x45464748
    xor r0, 0x4d4e4f50
    mul r0, 0x41424344
    mov32 r4, 0x56575859
    add r0, r4
    lddw r5, 0x5a5b5c5d5e5f6061
    xor r0, r5
    stw [r10-8], 0x51525354
    ldxw r7, [r10-8]
    add r0, r7
    mov r8, r0
    mod r8, 0x0b0c0d0e
    add r0, r8
    mov r8, r0
    div32 r8, 0x12345
    add r0, r8
    and r0, -0x12345679
    add32 r9, 0x7fff1234
    jset r0, 0x01020304, +1
    add r0, 1
    jsgt r0, -0x1234567, +1
    add r6, 1
    sub r2, 1
    jne r2, 0, top
    xor r0, r6
    lsh r9, 32
    xor r0, r9
    exit
"""


# LOOPED_SPRAY's immediates as they would be encoded (lddw: both halves), and the halves
# of 0x0b0c0d0e's rounded-up reciprocal (as CHOSEN says)
LOOPED_CHOSEN = [struct.pack("<I", v) for v in (
    0x45464748, 0x4D4E4F50, 0x41424344, 0x56575859, 0x5E5F6061, 0x5A5B5C5D, 0x51525354,
    0x0B0C0D0E, 0x72C6E35C, 0x4BAAA57F, 0x7FFF1234, 0x01020304, -0x12345679 & 0xFFFFFFFF,
    -0x1234567 & 0xFFFFFFFF)] + [b"\x45\x23\x01"]


def _looped_spray_by_hand(trips: int) -> int:
    """LOOPED_SPRAY's r0, worked out from the RFC's semantics (u64 wrap-around, a
    32-bit operation's result zero-extended, an immediate sign-extended to 64 bits)."""
    m64, m32 = 2**64 - 1, 2**32 - 1
    r0 = r6 = r9 = 0
    for _ in range(trips):
        r0 = ((((r0 + 0x45464748) & m64) ^ 0x4D4E4F50) * 0x41424344) & m64
        r0 = (((r0 + 0x56575859) & m64) ^ 0x5A5B5C5D5E5F6061)
        r0 = (r0 + 0x51525354) & m64
        r0 = (r0 + r0 % 0x0B0C0D0E) & m64
        r0 = (r0 + (r0 & m32) // 0x12345) & m64
        r0 &= (-0x12345679) & m64
        r9 = (r9 + 0x7FFF1234) & m32
        if not r0 & 0x01020304:
            r0 += 1
        signed = r0 - 2**64 if r0 >> 63 else r0
        if not signed > -0x1234567:
            r6 += 1
    return r0 ^ r6 ^ (r9 << 32) & m64


def test_a_loops_blinded_constants_stay_out_of_code_and_compute_alike(engine):
    """Every kind of blinded constant, used in a loop (an ALU and a 32-bit ALU
    immediate, mov32, lddw, a store's immediate, a jump's, a divisor's reciprocal):
    none is in the machine code, and the loop computes what the RFC says for any
    number of trips."""
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    prog = bpfjit.assemble(LOOPED_SPRAY)
    fn = bpfjit.compile(prog, engine, cache=False)
    for trips in (1, 2, 7, 33):
        assert fn(bytes([trips]) + bytes(7)) == _looped_spray_by_hand(trips), trips
    if engine != "interp":
        assert [p for p in LOOPED_CHOSEN if p in bytes(fn.memory.code)] == []
        # (and without blinding the scan sees them)
        plain = bpfjit.compile(prog, engine, cache=False, blind=False)
        assert len([p for p in LOOPED_CHOSEN if p in bytes(plain.memory.code)]) >= 6


def _code_at(fn, pcs) -> list:
    """The native instructions (capstone) lowered from the BPF pcs `pcs`, without the
    padding that aligns a loop's head."""
    import capstone
    lines, code = fn.extra["lines"], bytes(fn.memory.code)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    out = []
    for (start, pc), (end, _) in zip(lines, lines[1:]):
        if pc in pcs:
            out += [i for i in md.disasm(code[start:end], start) if i.mnemonic != "nop"]
    return out


def test_peachpy_reads_a_loops_blinded_constants_from_the_frame():
    # peachpy's loop reads each blinded constant from the frame (r12-relative) where the
    # entry code made it, instead of a `mov r10, imm ^ key; xor r10, key` every trip; a
    # constant outside any loop is still made where it is used
    if "peachpy" not in bpfjit.engines():
        pytest.skip("the peachpy engine is not available")
    prog = bpfjit.assemble("""
        ldxb r2, [r1]
        mov r0, 0x13572468
    top:
        add r0, 0x45464748
        mul r0, 0x41424344
        sub r2, 1
        jne r2, 0, top
        exit
    """)
    fn = bpfjit.compile(prog, "peachpy", cache=False, line_info=True)
    outside = _code_at(fn, {1})
    assert [i.mnemonic for i in outside] == ["mov", "xor"]
    # (the loop head's budget checkpoint, `sub r9, n; js`, aside)
    looped = [i for i in _code_at(fn, {2, 3}) if i.mnemonic not in ("sub", "js")]
    assert [i.mnemonic for i in looped] == ["add", "imul"]
    assert all("[r12 + 0x" in i.op_str for i in looped), [i.op_str for i in looped]
    # r0 = (0x13572468 + 0x45464748) * 0x41424344, then again (mod 2**64)
    want = 0x13572468
    for _ in range(2):
        want = (want + 0x45464748) * 0x41424344 % 2**64
    assert fn(bytes([2]) + bytes(7)) == want


def test_a_loop_with_more_blinded_constants_than_the_pool_holds(engine):
    """A loop adding 20 distinct blinded constants: peachpy pools 16 and makes the
    other 4 in place; every engine sums them alike."""
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    from bpfjit.backends.x86pool import POOL_LIMIT
    values = [0x01020304 * (k + 1) + 0x1111 for k in range(20)]
    adds = "\n".join(f"add r0, {v:#x}" for v in values)
    prog = bpfjit.assemble(f"ldxb r2, [r1]\nmov r0, 0\ntop:\n{adds}\n"
                           "sub r2, 1\njne r2, 0, top\nexit")
    options = {} if engine == "interp" else {"line_info": True}
    fn = bpfjit.compile(prog, engine, cache=False, **options)
    assert fn(bytes([3]) + bytes(7)) == 3 * sum(values)
    if engine.startswith("peachpy"):
        in_place = [i for i in _code_at(fn, set(range(2, 22))) if i.mnemonic == "xor"]
        assert len(in_place) == len(values) - POOL_LIMIT == 4


def test_a_loops_division_by_a_blinded_constant_pools_what_it_multiplies_by():
    # peachpy divides by a constant with a multiply by its reciprocal (BMI2): the pool
    # holds that reciprocal, and the divisor itself too only where a remainder needs it
    # (x - q * d); a slot the code never reads would cost every run its making
    if "peachpy" not in bpfjit.engines():
        pytest.skip("the peachpy engine is not available")
    import capstone
    from bpfjit.backends.x86alu import BMI2
    from bpfjit.backends.x86layout import FRAME
    if not BMI2:
        pytest.skip("without BMI2 peachpy divides with div")
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True

    def slots_made(op: str) -> int:
        fn = bpfjit.compile(bpfjit.assemble(f"""
            ldxb r2, [r1]
            ldxdw r0, [r1]
        top:
            {op} r0, 0x12345
            add r0, 0x7777
            sub r2, 1
            jne r2, 0, top
            exit
        """), "peachpy", cache=False)
        made = 0
        for i in md.disasm(bytes(fn.memory.code), 0):
            if i.mnemonic == "mov" and i.op_str.endswith(", r10") and "r12 + " in i.op_str:
                if int(i.op_str.split("r12 + ")[1].split("]")[0], 16) >= FRAME:
                    made += 1
        # (and it computes what the RFC says: as many trips as the buffer's first byte,
        # 3, starting from the buffer's u64, 0x2a003; unsigned division and remainder)
        x = int.from_bytes(bytes([3, 0xA0, 2, 0, 0, 0, 0, 0]), "little")
        for _ in range(3):
            x = (x // 0x12345 if op == "div" else x % 0x12345) + 0x7777
        assert fn(bytes([3, 0xA0, 2, 0, 0, 0, 0, 0])) == x
        return made
    # div: the reciprocal and the add's 0x7777; mod: the divisor too
    assert slots_made("div") == 2
    assert slots_made("mod") == 3
