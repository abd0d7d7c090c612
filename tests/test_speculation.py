"""Speculation-safe accesses (bpfjit.speculation).

A CPU that mispredicts a bounds check runs the access before the check resolves.  To
see what it would touch, the JITs can build code with the checks' branches left out
(speculation.MISPREDICT, a testing aid): a run then takes the path a misprediction
takes.  With masking, an access out of bounds goes to the non-canonical POISON and
faults (the child process dies of SIGSEGV or SIGBUS); without it, it reads the bytes beyond the
buffer, which the test planted.  Programs compute the same with masking on every
engine and level, and the native code shows the conditional moves."""

import faulthandler
import os
import signal

import pytest

import bpfjit
from bpfjit import speculation
from bpfjit.checkplan import check_groups, versioned_loops
from bpfjit.poisoning import poisoned_registers
from bpfjit.speculation import POISON, clamp_region, speculation_level
from bpfjit.verifier import verify

# r1 = the buffer (8 bytes here), r2 = its length; each reads past the buffer
SINGLE = "ldxb r0, [r1+100]\nexit"
GROUP = "ldxb r0, [r1+100]\nldxb r3, [r1+101]\nadd r0, r3\nexit"
HOISTED = """
    mov r0, 0
    mov r3, 0
loop:
    mov r4, r1
    add r4, r3
    ldxb r5, [r4+0]
    add r0, r5
    add r3, 1
    jlt r3, 64, loop
    exit
"""
# the same, the pointer also spilled: its entry cannot poison registers (a reload could
# bring back one unpoisoned), so peachpy adjusts each hoisted address instead
HOISTED_SPILLED = HOISTED.replace("    ldxb r5, [r4+0]", "    stxdw [r10-8], r4\n    ldxb r5, [r4+0]")
# a loop whose entry tests a range that moves with a register (bpfjit.checkplan's
# RangeTest): p = mem + mem[1] (10 in the planted buffer, as a signed byte), then
# p[4 + i] for i < 40
HOISTED_RANGE = """
    ldxb r3, [r1+1]
    lsh r3, 56
    arsh r3, 56
    mov r6, r1
    add r6, r3
    mov r0, 0
    mov r4, 0
loop:
    mov r5, r6
    add r5, r4
    ldxb r7, [r5+4]
    add r0, r7
    add r4, 1
    jlt r4, 40, loop
    exit
"""
# the byte loaded into its own pointer, made again from r6 each trip: r6 is poisoned
HOISTED_RANGE_LOADED = HOISTED_RANGE.replace("    ldxb r7, [r5+4]\n    add r0, r7",
                                             "    ldxb r5, [r5+4]\n    add r0, r5")
# rows reloaded from the stack each trip (a pointer to the buffer and one 16 bytes on)
# plus an index that is a copy of the counter made at the back edge (clang's shape in
# corpus/plain's blur): the pointers cannot be poisoned, the index and the counter can
ROWS_BY_INDEX = """
    stxdw [r10-8], r1
    mov r6, r1
    add r6, 16
    stxdw [r10-16], r6
    mov r0, 0
    mov r4, 0
    mov r9, 0
loop:
    ldxdw r3, [r10-8]
    add r3, r4
    ldxb r5, [r3+0]
    add r0, r5
    ldxdw r3, [r10-16]
    add r3, r4
    ldxb r5, [r3+0]
    add r0, r5
    add r9, 1
    mov r4, r9
    jlt r9, 40, loop
    exit
"""
HOISTED_RANGE_SPILLED = HOISTED_RANGE.replace("    ldxb r7, [r5+4]",
                                              "    stxdw [r10-8], r5\n    ldxb r7, [r5+4]")
# a pointer into the stack moved by a byte of the buffer (200: above the frame)
STACK = "ldxb r3, [r1+0]\nmov r4, r10\nadd r4, r3\nldxb r0, [r4-1]\nexit"


def _planted() -> tuple[bytearray, memoryview]:
    """An 8-byte buffer inside a bigger one whose bytes after it are known."""
    big = bytearray((7 * i + 3) & 0xFF for i in range(256))
    big[0] = 200
    return big, memoryview(big)[:8]


def _run_mispredicted(prog, engine: str, level: str, monkeypatch,
                      make_arg=None) -> tuple[str, int]:
    """("signal", number) or ("exit", r0 & 0xff) of a run, in a child process, of code
    built without its bounds checks' branches (on the planted buffer, or make_arg())."""
    monkeypatch.setattr(speculation, "MISPREDICT", True)
    fn = bpfjit.compile(prog, engine, cache=False, speculation=level, blind=False)
    monkeypatch.setattr(speculation, "MISPREDICT", False)
    big, mem = _planted()
    pid = os.fork()
    if pid == 0:                                  # the child: run it, report r0
        faulthandler.disable()
        try:
            os._exit(fn(mem if make_arg is None else make_arg()) & 0xFF)
        finally:
            os._exit(255)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        # a non-canonical address faults with SIGSEGV, or SIGBUS when the access is
        # relative to rsp or rbp (a stack-segment fault)
        number = os.WTERMSIG(status)
        return "signal", signal.SIGSEGV if number == signal.SIGBUS else number
    return "exit", os.WEXITSTATUS(status)


@pytest.mark.parametrize("text, expected", [
    (SINGLE, lambda big: big[100]),
    (GROUP, lambda big: big[100] + big[101]),
    (HOISTED, lambda big: sum(big[:64])),
    (HOISTED_SPILLED, lambda big: sum(big[:64])),
    (HOISTED_RANGE, lambda big: sum(big[14:54])),
    (HOISTED_RANGE_SPILLED, lambda big: sum(big[14:54])),
], ids=["single", "group", "hoisted-loop", "hoisted-spilled", "hoisted-range",
        "hoisted-range-spilled"])
def test_a_mispredicted_buffer_check_faults_at_poison(engine, text, expected, monkeypatch):
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    prog = bpfjit.assemble(text)
    big, _ = _planted()
    # unmasked, the mispredicted path reads the planted bytes past the buffer
    assert _run_mispredicted(prog, engine, "off", monkeypatch) == \
        ("exit", expected(big) & 0xFF)
    # masked, it goes to the non-canonical POISON: a fault, nothing read
    assert _run_mispredicted(prog, engine, "checks", monkeypatch) == \
        ("signal", signal.SIGSEGV)


@pytest.mark.parametrize("text", [HOISTED_RANGE, HOISTED_RANGE_LOADED,
                                  HOISTED_RANGE_SPILLED],
                         ids=["poisoned", "poisoned-loaded-into-base", "adjusted"])
def test_a_mispredicted_range_past_the_end_faults_at_poison(engine, text, monkeypatch):
    # 48 bytes: longer than the range is wide (40), but [p + 4, p + 44) = [14, 54) ends
    # past them, so the entry's second compare is the one that fails
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    prog = bpfjit.assemble(text)
    big, _ = _planted()
    longer = lambda: memoryview(big)[:48]          # noqa: E731
    assert _run_mispredicted(prog, engine, "off", monkeypatch, longer) == \
        ("exit", sum(big[14:54]) & 0xFF)
    assert _run_mispredicted(prog, engine, "checks", monkeypatch, longer) == \
        ("signal", signal.SIGSEGV)


def test_mispredicted_rows_by_a_poisoned_index_fault(engine, monkeypatch):
    # the rows, [0, 40) and [16, 56) (hoisted by the 56 bytes they need), lie past the
    # 8-byte buffer
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    prog = bpfjit.assemble(ROWS_BY_INDEX)
    big, _ = _planted()
    assert _run_mispredicted(prog, engine, "off", monkeypatch) == \
        ("exit", (sum(big[:40]) + sum(big[16:56])) & 0xFF)
    assert _run_mispredicted(prog, engine, "checks", monkeypatch) == \
        ("signal", signal.SIGSEGV)
    # r3 is a reloaded row plus r4 each trip, and r4 comes round as r9: both poisoned
    verified = verify(prog)
    loops = versioned_loops(verified)
    assert len(loops) == 1 and loops[0].unchecked == {9, 13} and loops[0].need == 56
    assert poisoned_registers(verified.program, loops[0]) == {4, 9}


def test_the_programs_exercise_what_they_name():
    assert check_groups(verify(bpfjit.assemble(GROUP)))
    # (each address is a pointer the loop makes each trip from an invariant one plus a
    # counter: poisoning either covers every address, one register is enough)
    for text, poisoned in ((HOISTED, ({1}, {3})), (HOISTED_SPILLED, (None,))):
        verified = verify(bpfjit.assemble(text))
        loops = versioned_loops(verified)
        assert len(loops) == 1 and loops[0].unchecked and loops[0].need == 64
        assert poisoned_registers(verified.program, loops[0]) in poisoned
    for text, poisoned in ((HOISTED_RANGE, ({4}, {6})), (HOISTED_RANGE_LOADED, ({4}, {6})),
                           (HOISTED_RANGE_SPILLED, (None,))):
        verified = verify(bpfjit.assemble(text))
        loops = versioned_loops(verified)
        assert len(loops) == 1 and loops[0].unchecked and loops[0].ranges
        assert poisoned_registers(verified.program, loops[0]) in poisoned
    stack = verify(bpfjit.assemble(STACK))
    assert stack.regions[3] == "stack" and stack.needs_check(3)


def test_a_mispredicted_check_of_the_top_frame_stays_in_the_frame(engine, monkeypatch):
    # in the entry subprogram, which no call enters, the frame is the top one and its
    # 512 bytes are all a checked access may touch: the offset from the frame's bottom
    # is masked to 9 bits, so a mispredicted check reads the frame itself.  Here that
    # offset is 512 + 200 - 1 = 711, and 711 mod 512 = 199: the byte at r10-313, where
    # the program stored 90 first.  The llvm engine masks the index instead where it
    # cannot be negative (a byte, r10 + r3 - 1): only r3 = 0 passes the check, so the
    # mask is 0 and the read is at r10-1, where the program stored 33
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    prog = bpfjit.assemble("stb [r10-313], 90\nstb [r10-1], 33\n" + STACK)
    outcome = _run_mispredicted(prog, engine, "off", monkeypatch)
    assert outcome[0] == "exit"          # read something above the stack, no fault
    assert _run_mispredicted(prog, engine, "checks", monkeypatch) == \
        ("exit", 33 if engine == "llvm" else 90)
    # architecturally nothing changes: the check traps at the read's pc
    with pytest.raises(bpfjit.MemoryAccessError) as trapped:
        bpfjit.compile(prog, engine, cache=False)(bytearray([200]))
    assert trapped.value.pc == 5
    # an 8-byte read wrapped to offset 511 reads the frame's last byte (90) and the 7
    # bytes above the top, which the entry zeroes: (r0 >> 8) & 0xff is their first, 0
    wide = bpfjit.assemble("stb [r10-1], 90\nldxb r3, [r1+0]\nmov r4, r10\nadd r4, r3\n"
                           "ldxdw r0, [r4+311]\nmov r5, r0\nrsh r0, 8\nor r0, r5\nexit")
    assert _run_mispredicted(wide, engine, "checks", monkeypatch) == ("exit", 90)


# r4 = r10 - 64 + a byte of the buffer, read at r4: the check admits bytes 0-63, so a
# masked index keeps index & 63 (llvm, whose index cannot be negative); the height
# above the frame's bottom masked to 9 bits gives (448 + index) & 511 (peachpy)
ARRAY = ("stb [r10-56], 77\nstb [r10-376], 88\nldxb r3, [r1+0]\nmov r4, r10\n"
         "add r4, -64\nadd r4, r3\nldxb r0, [r4+0]\nexit")


@pytest.mark.parametrize("index, expected", [(200, {"llvm": 77, "peachpy": 88}),
                                             (72, {"llvm": 77, "peachpy": 0})])
def test_a_mispredicted_check_of_an_index_reads_in_its_array(engine, index, expected,
                                                               monkeypatch):
    # index 200: llvm reads r10 - 64 + (200 & 63) = r10-56 (77); peachpy r10 - 512 +
    # (648 & 511) = r10-376 (88).  Index 72: llvm r10-56 again; peachpy r10 - 512 + 8
    # (0: the zeroed stack)
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    prog = bpfjit.assemble(ARRAY)
    got = _run_mispredicted(prog, engine, "checks", monkeypatch,
                            make_arg=lambda: bytearray([index]))
    assert got == ("exit", expected[engine])
    # architecturally: index 8 reads r10-56, 200 traps at the read (pc 6)
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bytearray([8])) == 77
    with pytest.raises(bpfjit.MemoryAccessError) as trapped:
        fn(bytearray([index]))
    assert trapped.value.pc == 6


def test_the_verifier_bounds_an_unproven_stack_access(tmp_path, monkeypatch):
    # ARRAY's read: r10 - 64 + a byte, its first byte at r10-64 to r10+191 on any run
    # (also when the verdict comes back from the code cache); a read from r10 + a
    # number that may be negative has no lowest offset to trust
    monkeypatch.setenv("BPFJIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BPFJIT_CACHE", raising=False)
    verified = verify(bpfjit.assemble(ARRAY))
    assert verified.stack_ranges == {6: (-64, 191)}
    again = verify(bpfjit.assemble(ARRAY))
    assert again is not verified and again.stack_ranges == {6: (-64, 191)}
    signed = bpfjit.assemble("ldxb r3, [r1+0]\nlsh r3, 56\narsh r3, 56\nmov r4, r10\n"
                             "add r4, r3\nldxb r0, [r4-1]\nexit")
    assert verify(signed).stack_ranges == {5: (-129, 126)}


def test_a_mispredicted_stack_check_in_a_callee_faults_at_poison(engine, monkeypatch):
    # a callee's frame is not always the same one (a checked access may reach its
    # callers' frames), so its checked accesses are still poisoned
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    # (200 + 511 bytes above the callee's r10: 199 above the caller's, the stack's top)
    prog = bpfjit.assemble("call local f\nexit\nf:\n" + STACK.replace("[r4-1]", "[r4+511]"))
    outcome = _run_mispredicted(prog, engine, "off", monkeypatch)
    assert outcome[0] == "exit"
    assert _run_mispredicted(prog, engine, "checks", monkeypatch) == \
        ("signal", signal.SIGSEGV)


def test_in_bounds_runs_are_unchanged_at_every_level(engine):
    big, mem = _planted()
    inside = bytearray(big[:128])
    for text, result in ((SINGLE, big[100]), (GROUP, big[100] + big[101]),
                         (HOISTED, sum(big[:64]))):
        prog = bpfjit.assemble(text)
        for level in ("off", "checks", "all"):
            options = {} if engine == "interp" else {"speculation": level}
            assert bpfjit.compile(prog, engine, cache=False, **options)(inside) == result
            if engine != "interp":
                with pytest.raises(bpfjit.MemoryAccessError):
                    bpfjit.compile(prog, engine, cache=False, **options)(mem)


# proven accesses with a variable offset: into the buffer, the stack and a map value
VARIABLE = """
    mov r0, 0
    jlt r2, 16, out
    ldxb r3, [r1+0]
    and r3, 7
    mov r4, r1
    add r4, r3
    ldxb r0, [r4+8]
    mov r5, r10
    add r5, r3
    stxb [r5-16], r0
    ldxb r6, [r5-16]
    add r0, r6
out:
    exit
"""


def test_the_verifier_lists_proven_accesses_whose_offset_varies():
    verified = verify(bpfjit.assemble(VARIABLE))
    # pcs 6, 9 and 10 (ldxb [r4+8], stxb [r5-16], ldxb [r5-16]): proven, offset 0..7
    assert sorted(verified.variable) == [6, 9, 10]
    assert all(pc in verified.proven for pc in (6, 9, 10))
    assert 2 in verified.proven and 2 not in verified.variable      # constant offset
    assert [clamp_region(verified, pc, "all") for pc in (6, 9, 10)] == \
        ["mem", "stack", "stack"]
    assert clamp_region(verified, 6, "checks") is None


@pytest.mark.parametrize("first", range(0, 256, 37))
def test_clamped_accesses_compute_what_the_interpreter_does(engine, first):
    mem = bytearray(range(first, first + 16))
    mem[0] = first
    # by hand: r3 = first & 7; r0 = mem[8 + r3]; the stack byte read back is r0
    expected = 2 * mem[8 + (first & 7)]
    prog = bpfjit.assemble(VARIABLE)
    options = {} if engine == "interp" else {"speculation": "all"}
    assert bpfjit.compile(prog, engine, cache=False, **options)(mem) == expected


def test_levels_and_their_defaults():
    assert speculation_level(None, "checked") == speculation_level(None, "strict") == "checks"
    assert speculation_level(None, "unchecked") == "off"
    assert speculation_level("all", "unchecked") == "all"
    for bad in (True, "yes", 1):
        with pytest.raises(bpfjit.BpfError, match="speculation must be one of"):
            speculation_level(bad, "checked")
    # non-canonical: bits 47..63 are not all equal
    assert POISON >> 47 not in (0, (1 << 17) - 1)


def test_native_code_shows_the_conditional_moves(engine):
    if engine == "interp":
        pytest.skip("no native code")
    from bpfjit.nativedis import native_listing

    def listing(level):
        fn = bpfjit.compile(bpfjit.assemble(SINGLE), engine, cache=False, line_info=True,
                            speculation=level)
        return native_listing(fn.program, fn.memory.code, fn.memory.address,
                              fn.extra.get("symbols", {}), fn.extra.get("lines"))
    assert "cmovae" in listing("checks") and "cmovae" not in listing("off")


BENCH = sorted((__import__("pathlib").Path(__file__).parent.parent / "bench" / "programs")
               .glob("*.bin"))


@pytest.mark.parametrize("path", BENCH, ids=[p.stem for p in BENCH])
def test_bench_programs_agree_with_the_interpreter_at_level_all(engine, path):
    # clamps on every proven variable-offset access change no result
    if engine == "interp":
        pytest.skip("the reference itself")
    from bpfjit.program import Program
    memory = path.with_suffix(".mem")
    mem = memory.read_bytes() if memory.exists() else None
    prog = Program.from_bytes(path.read_bytes())
    reference = bpfjit.compile(prog, "interp")(bytearray(mem) if mem else None)
    fn = bpfjit.compile(prog, engine, cache=False, speculation="all")
    assert fn(bytearray(mem) if mem else None) == reference


@pytest.mark.parametrize("body, expected", [
    # the base stepped by an immediate and by an unpoisoned register: poisoned
    (["ldxb r0, [r1+0]", "add r1, 1", "add r1, r3"], {1}),
    # copied from another register each trip: poisoning the other covers it
    (["mov r4, r1", "ldxb r0, [r4+0]", "add r1, 2"], {1}),
    # r6 carries POISON too (a copy), so r1 + r6 would cancel it
    (["mov r6, r1", "ldxb r0, [r1+0]", "add r1, r6"], None),
    # the base reloaded from memory (it comes round carrying nothing), or computed by a
    # 32-bit operation
    (["ldxb r0, [r1+0]", "ldxdw r1, [r10-8]"], None),
    (["ldxb r0, [r1+0]", "add32 r1, 1"], None),
    # the base's value stored: a load could bring it back unpoisoned
    (["ldxb r0, [r1+0]", "stxdw [r10-8], r1"], None),
    # the byte loaded into its own pointer, which a copy of r1 makes again each trip
    # (clang's `r6 = r1; r6 += r5; r6 = *(u8 *)(r6 + 0)`): r1 alone is poisoned
    (["mov r6, r1", "add r6, r5", "ldxb r6, [r6+0]", "add r0, r6", "add r5, 1"], {1}),
    # ... but used as a base again before it is made again: not covered
    (["mov r6, r1", "ldxb r6, [r6+0]", "ldxb r0, [r6+0]"], None),
    # made again on one path only
    (["mov r6, r1", "ldxb r6, [r6+0]", "jeq r0, 0, +1", "mov r6, r1", "ldxb r0, [r6+0]"],
     None),
    (["mov r6, r1", "ldxb r6, [r6+0]", "jeq r0, 0, +2", "mov r6, r1", "ja +1",
      "mov r6, r1", "ldxb r0, [r6+0]"], {1}),
], ids=["stepped", "copied", "cancelled", "reloaded", "32-bit", "stored", "loaded-into",
        "loaded-then-used", "made-again-on-one-path", "made-again-on-both"])
def test_which_loops_poison_their_registers(body, expected):
    # the body, then a jump back to its first instruction: a loop at pc 0
    from bpfjit.checkplan import VersionedLoop
    prog = bpfjit.assemble("\n".join(body + [f"ja -{len(body) + 1}", "exit"]))
    pcs = frozenset(range(len(body) + 1))
    hoisted = frozenset(pc for pc in pcs if prog.at(pc).kind.name == "LDX"
                        and prog.at(pc).src != 10)
    loop = VersionedLoop(0, pcs, hoisted, 1)
    result = poisoned_registers(prog, loop)
    assert result == (None if expected is None else frozenset(expected))


def test_disasm_native_takes_the_level(tmp_path):
    import subprocess
    import sys
    source = tmp_path / "single.s"
    source.write_text(SINGLE + "\n")
    for engine in [e for e in bpfjit.engines() if e != "interp"]:
        def listing(level):
            proc = subprocess.run([sys.executable, "-m", "bpfjit", "disasm", "--native",
                                   "--engine", engine, "--speculation", level, str(source)],
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr
            return proc.stdout
        assert "cmovae" in listing("checks") and "cmovae" not in listing("off")


# a socket filter's legacy packet load past the packet (outside it, the program returns 0)
LEGACY = "mov r6, r1\nldabsb 100\nexit"
# an array map of 4 u64: key 9 is past it (entry 0 holds 1234)
ARRAY_LOOKUP = """
    stw [r10-4], 9
    lddw r1, map_by_fd(0)
    mov r2, r10
    add r2, -4
    call 1
    jeq r0, 0, missing
    ldxdw r0, [r0+0]
    exit
missing:
    mov r0, 77
    exit
"""


def test_a_mispredicted_legacy_load_faults_at_poison(engine, monkeypatch):
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    base = bpfjit.assemble(LEGACY)
    prog = bpfjit.Program(base.insns, context="skb", prog_type="socket_filter")
    assert bpfjit.compile(prog, engine)(bpfjit.SkbContext(bytes(8))) == 0   # past it: 0

    def packet():
        return bpfjit.SkbContext(bytes(8))
    # unmasked, the mispredicted path reads past the 8-byte packet (what lies there
    # varies); masked, it faults at POISON
    assert _run_mispredicted(prog, engine, "off", monkeypatch, packet)[0] == "exit"
    assert _run_mispredicted(prog, engine, "checks", monkeypatch, packet) == \
        ("signal", signal.SIGSEGV)


def test_a_mispredicted_array_lookup_reads_entry_zero(engine, monkeypatch):
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import ArrayMap, MapSpec, MapTable
    array = ArrayMap(MapSpec("a", 2, 4, 8, 4))
    array[(0).to_bytes(4, "little")] = (1234).to_bytes(8, "little")
    base = bpfjit.assemble(ARRAY_LOOKUP)
    prog = bpfjit.Program(base.insns, env=KernelEnv(MapTable([array])))
    assert bpfjit.compile(prog, engine)() == 77          # architecturally: not found
    # masked, the lookup a misprediction runs gives entry 0's address, as the kernel's
    # index masking does; unmasked, the address of entry 9, past the array
    masked = _run_mispredicted(prog, engine, "checks", monkeypatch)
    assert masked == ("exit", 1234 & 0xFF)
    assert _run_mispredicted(prog, engine, "off", monkeypatch) != masked


# a pointer into the buffer or the stack, by a byte of the buffer (200 here: the
# buffer), so the verifier cannot name the access's region; +100 is past the buffer.
# (Each path spills its own pointer: a register joined from the two would make the
# block after the paths meet run once per path, bpfjit.verifier.perpath, each with
# its region known; the spill's join is a pointer into either.)
EITHER = """
    ldxb r4, [r1+0]
    mov r3, r10
    add r3, -16
    stxdw [r10-8], r3
    jeq r4, 0, +1
    stxdw [r10-8], r1
    ldxdw r3, [r10-8]
    ldxb r0, [r3+OFFSET]
    exit
"""
EITHER_LOAD = 7


def test_an_access_of_unknown_region_needs_no_barrier(engine, monkeypatch):
    """Without maps, an access that may be in the buffer or the stack is masked by
    conditional moves on each region's own tests, not fenced: a mispredicted run still
    faults at POISON, and the code has no lfence (which cost a recursive-descent
    evaluator in corpus/ 2.0x on llvm and 2.4x on peachpy)."""
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    from bpfjit.nativedis import native_listing
    prog = bpfjit.assemble(EITHER.replace("OFFSET", "100"))
    verified = verify(prog)
    assert verified.regions.get(EITHER_LOAD) is None and verified.needs_check(EITHER_LOAD)
    big, _ = _planted()
    assert _run_mispredicted(prog, engine, "off", monkeypatch) == ("exit", big[100])
    assert _run_mispredicted(prog, engine, "checks", monkeypatch) == \
        ("signal", signal.SIGSEGV)
    fn = bpfjit.compile(prog, engine, cache=False, line_info=True, speculation="checks")
    listing = native_listing(fn.program, fn.memory.code, fn.memory.address,
                             fn.extra.get("symbols", {}), fn.extra.get("lines"))
    assert "lfence" not in listing and "cmov" in listing
    # architecturally: both regions in bounds, and both out of bounds, as before
    inside = bpfjit.compile(bpfjit.assemble(EITHER.replace("OFFSET", "3")), engine,
                            cache=False)
    assert inside(bytearray([9, 1, 2, 42])) == 42                # the buffer's byte 3
    assert inside(bytearray([0, 1, 2, 42])) == 0                 # the stack: zeroed
    with pytest.raises(bpfjit.MemoryAccessError):
        fn(bytearray(8))                                         # stack - 16 + 100
    with pytest.raises(bpfjit.MemoryAccessError):
        fn(bytearray([1] * 8))                                   # buffer + 100
