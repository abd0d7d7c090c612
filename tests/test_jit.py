"""What only JIT engines have: executable memory, modes, optimisation levels,
the native batch loop, disassembly and IR.  Semantics are held to the shared tests."""

import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit
from bpfjit.errors import BpfError
from bpfjit.execmem import ExecMemory

JITS = [e for e in bpfjit.engines() if e != "interp"]
pytestmark = pytest.mark.skipif(not JITS, reason="no JIT engine available")
PROGRAMS = Path(__file__).parent.parent / "bench" / "programs"


def mapping_permissions(address: int) -> str:
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, perms = line.split()[:2]
        lo, hi = (int(x, 16) for x in span.split("-"))
        if lo <= address < hi:
            return perms
    return ""


def test_exec_memory_is_never_writable_and_executable():
    # lea rax, [rdi + rsi]; ret
    mem = ExecMemory(bytes.fromhex("488d0437c3"))
    assert mapping_permissions(mem.address).startswith("r-x")
    add = mem.function("uint64_t(*)(uint64_t, uint64_t)")
    assert add(40, 2) == 42


def test_exec_memory_is_unmapped_when_collected():
    mem = ExecMemory(b"\xc3")
    address = mem.address
    del mem
    import gc
    gc.collect()
    assert mapping_permissions(address) == ""


def test_exec_memory_rejects_empty_code():
    with pytest.raises(BpfError):
        ExecMemory(b"")


@pytest.mark.parametrize("jit", JITS)
def test_compiled_code_is_read_execute(jit):
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 1\nexit"), jit)
    assert mapping_permissions(fn.memory.address).startswith("r-x")


@pytest.mark.parametrize("jit", JITS)
@pytest.mark.parametrize("name", sorted(p.stem for p in PROGRAMS.glob("*.bin")))
def test_unchecked_mode_computes_the_same(jit, name):
    prog = bpfjit.Program.from_bytes((PROGRAMS / f"{name}.bin").read_bytes())
    mem_path = PROGRAMS / f"{name}.mem"
    mem = mem_path.read_bytes() if mem_path.exists() else None
    expected = bpfjit.compile(prog, "interp")(mem)
    assert bpfjit.compile(prog, jit, mode="unchecked")(mem) == expected


@pytest.mark.parametrize("jit", [j for j in JITS if j == "llvm"])   # only llvm optimises
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_every_opt_level_agrees(jit, level):
    prog = bpfjit.Program.from_bytes((PROGRAMS / "parser.bin").read_bytes())
    mem = (PROGRAMS / "parser.mem").read_bytes()
    assert bpfjit.compile(prog, jit, opt_level=level)(mem) == bpfjit.compile(prog)(mem)


def _long_steps(slots: int) -> list[tuple[str, int]]:
    """`slots - 2` steps on r0: multiply-adds, and every 16th pair a branch on the
    running value over an xor."""
    steps: list[tuple[str, int]] = []
    pair = 0
    while len(steps) < slots - 2:
        pair += 1
        steps += [("jset", pair & 0xFF), ("xor", pair)] if pair % 16 == 0 else \
            [("mul", 2 * pair + 1), ("add", pair)]
    return steps[:slots - 2]


@pytest.mark.skipif("llvm" not in JITS, reason="llvm is not available")
@pytest.mark.parametrize("slots, level", [(2047, 2), (2048, 1)])
def test_large_programs_take_the_quick_level_by_default(slots, level):
    from bpfjit.backends.llvmjit import QUICK_FROM
    assert QUICK_FROM == 2048
    steps = _long_steps(slots)
    prog = bpfjit.assemble("\n".join(["ldxdw %r0, [%r1+0]"] + [
        f"jset %r0, {v}, +1" if op == "jset" else f"{op} %r0, {v}" for op, v in steps]
        + ["exit"]))
    assert len(prog) == slots
    mem = bytes(range(1, 9))
    fn = bpfjit.compile(prog, "llvm", cache=False)
    assert fn.extra["opt_level"] == level
    # the steps computed here, modulo 2^64 (a jset jumps over the next step)
    r0, skip = int.from_bytes(mem, "little"), False
    for op, v in steps:
        if skip:
            skip = False
        elif op == "jset":
            skip = bool(r0 & v)
        elif op == "xor":
            r0 ^= v
        elif op == "mul":
            r0 = r0 * v % 2**64
        else:
            r0 = (r0 + v) % 2**64
    assert fn(mem) == r0
    assert bpfjit.compile(prog, "llvm", opt_level=2, cache=False).extra["opt_level"] == 2


@pytest.mark.parametrize("jit", JITS)
@pytest.mark.parametrize("options,words", [
    ({"mode": "fast"}, "mode"), ({"opt_level": 7}, "opt_level"), ({"budget": 0}, "budget"),
    ({"helpers": {-1: print}}, "helper ids"), ({"helpers": {1: 5}}, "not callable"),
])
def test_bad_options(jit, options, words):
    with pytest.raises(BpfError, match=words):
        bpfjit.compile(bpfjit.assemble("mov %r0, 0\nexit"), jit, **options)


@pytest.mark.parametrize("jit", JITS)
def test_batch_loop_runs_n_times_on_one_buffer(jit):
    fn = bpfjit.compile(bpfjit.assemble(
        "ldxdw %r0, [%r1]\nadd %r0, 1\nstxdw [%r1], %r0\nexit"), jit)
    mem = bytearray(8)
    r0, ns = fn.run_batch(mem, 1000)
    assert r0 == 1000 and int.from_bytes(mem, "little") == 1000 and ns > 0


@pytest.mark.parametrize("jit", JITS)
def test_rotation_loop_runs_each_buffer_in_turn(jit):
    # each run adds 1 to its buffer's first word and returns the sum with the length:
    # 4 rounds over buffers of 8, 16 and 24 bytes leave 4 in each; the last run (on the
    # 24-byte buffer) returns 4 + 24
    fn = bpfjit.compile(bpfjit.assemble(
        "ldxdw %r0, [%r1]\nadd %r0, 1\nstxdw [%r1], %r0\nadd %r0, %r2\nexit"), jit)
    bufs = [bytearray(8), bytearray(16), bytearray(24)]
    r0, ns = fn.run_rotating(bufs, 4)
    assert r0 == 28 and ns > 0
    assert [int.from_bytes(b[:8], "little") for b in bufs] == [4, 4, 4]
    assert fn.run_rotating(bufs, 0)[0] == 0 and fn.run_rotating([], 3)[0] == 0


@pytest.mark.parametrize("jit", JITS)
def test_rotation_loop_stops_at_a_trap_and_checks_its_arguments(jit):
    # the second buffer is too short for the 8-byte load at offset 8
    fn = bpfjit.compile(bpfjit.assemble("ldxdw %r0, [%r1+8]\nexit"), jit)
    with pytest.raises(bpfjit.MemoryAccessError):
        fn.run_rotating([bytearray(16), bytearray(8)], 2)
    for rounds in (-1, 2**64, 1.5, True):
        with pytest.raises(BpfError, match="non-negative"):
            fn.run_rotating([bytearray(16)], rounds)
    xdp = bpfjit.compile(bpfjit.Program(bpfjit.assemble("mov %r0, 2\nexit").insns,
                                        context="xdp", prog_type="xdp"), jit)
    with pytest.raises(BpfError, match="plain memory"):
        xdp.run_rotating([bytes(64)], 1)


@pytest.mark.parametrize("jit", JITS)
def test_batch_loop_stops_at_a_trap(jit):
    fn = bpfjit.compile(bpfjit.assemble("ldxdw %r0, [%r1+8]\nexit"), jit)
    with pytest.raises(bpfjit.MemoryAccessError):
        fn.run_batch(bytearray(8), 10)


@pytest.mark.parametrize("jit", JITS)
@pytest.mark.parametrize("count", [-1, 2**64, 1.5, True])
def test_batch_count_must_be_a_count(jit, count):
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 1\nexit"), jit)
    with pytest.raises(BpfError, match="non-negative"):
        fn.run_batch(None, count)
    assert fn.run_batch(None, 0)[0] == 0           # no run: r0 is 0


@pytest.mark.parametrize("jit", JITS)
def test_every_run_gets_the_whole_budget(jit):
    # 10 blocks of 2 instructions per loop turn...: a budget that lets one run finish
    # must let every later run finish too
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 0\nadd %r0, 1\njlt %r0, 100, -2\nexit"),
                        jit, budget=250)
    assert [fn() for _ in range(3)] == [100, 100, 100]


@pytest.mark.parametrize("jit", JITS)
def test_threads_have_their_own_run_state(jit):
    import threading
    fn = bpfjit.compile(bpfjit.assemble(
        "mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 20000, loop\nldxb %r1, [%r1]\nexit"), jit)
    results, errors = [], []

    def worker(mem):
        try:
            results.append(fn(mem))
        except bpfjit.BpfError as exc:
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=worker, args=(b"\x01" if i % 2 else None,))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [20000] * 4 and errors == ["MemoryAccessError"] * 4


@pytest.mark.parametrize("jit", JITS)
def test_a_program_may_return_the_value_that_marks_a_trap(jit):
    from bpfjit.runfields import TRAPPED
    fn = bpfjit.compile(bpfjit.assemble(f"lddw %r0, {TRAPPED}\nexit"), jit)
    trapping = bpfjit.compile(bpfjit.assemble("ldxb %r0, [%r1]\nexit"), jit)
    with pytest.raises(bpfjit.MemoryAccessError):
        trapping(None)
    assert fn() == TRAPPED and fn.run_batch(None, 3)[0] == TRAPPED


@pytest.mark.parametrize("jit", JITS)
def test_a_helper_may_run_the_program_again(jit):
    # r6 = r1; r0 = helper 7(); r0 += 1 + mem[0].  Run on b"\x05", the helper runs the
    # same program on no memory (where the helper returns 0 at once), which traps at
    # pc 3 (r6 = 0), and returns 41: 41 + 1 + 5 = 47; the inner trap does not leak into
    # the outer run
    inner_errors, depth = [], []

    def helper(*_):
        if depth:
            return 0
        depth.append(1)
        try:
            fn(None)
        except bpfjit.MemoryAccessError as exc:
            inner_errors.append(exc.pc)
        finally:
            depth.pop()
        return 41

    fn = bpfjit.compile(bpfjit.assemble(
        "mov %r6, %r1\ncall 7\nadd %r0, 1\nldxb %r2, [%r6]\nadd %r0, %r2\nexit"), jit,
        helpers={7: helper})
    assert fn(b"\x05") == 47 and inner_errors == [3]
    with pytest.raises(bpfjit.MemoryAccessError) as outer:
        fn(None)                      # both runs trap: the inner one inside the helper
    assert outer.value.pc == 3 and inner_errors == [3, 3]


@pytest.mark.parametrize("jit", JITS)
def test_call_costs_cover_every_kind_of_argument(jit):
    from bpfjit.callcost import format_call_costs, measure_call_costs
    rows = measure_call_costs(jit, size=16, number=50, rounds=1)
    kinds = {row.argument for row in rows}
    assert {"None", "bytearray", "bytes", "memoryview", "XdpContext"} <= kinds
    assert all(row.ns > 0 and row.floor_ns > 0 for row in rows)
    assert format_call_costs(rows).count(jit) == len(rows)
    with pytest.raises(BpfError, match="positive"):
        measure_call_costs(jit, size=0)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "bpfjit", *args], capture_output=True,
                          text=True, timeout=120)


def test_disasm_native_groups_code_under_bpf_instructions():
    proc = run_cli("disasm", "--native", "--engine", "llvm", str(PROGRAMS / "xorshift.s"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "<bpf_entry>:" in out
    assert "; 0: lddw %r1, 0x9e3779b97f4a7c15" in out or "lddw" in out
    assert any(line.strip().startswith("; 13:") for line in out.splitlines())   # the loop
    assert "ret" in out


def test_disasm_ir_shows_both_stages():
    proc = run_cli("disasm", "--ir", "--engine", "llvm", str(PROGRAMS / "xorshift.s"))
    assert proc.returncode == 0, proc.stderr
    before, after = proc.stdout.split("; ---- after optimisation ----")
    assert "alloca i64" in before and "bpf_sub_0" in before
    assert "alloca i64" not in after.split("@bpf_entry")[1].split("}")[0]


def test_disasm_native_of_the_interpreter_is_one_line():
    proc = run_cli("disasm", "--native", "--engine", "interp", str(PROGRAMS / "xorshift.s"))
    assert proc.returncode == 1 and "interpreter makes no machine code" in proc.stderr


@pytest.mark.skipif("llvm" not in JITS, reason="llvm engine unavailable")
@pytest.mark.parametrize("text,compare,not_compare", [
    # a buffer pointer (the buffer may be empty): its address against the buffer only
    ("ldxb %r0, [%r1]\nexit", "icmp ult", "icmp ule"),
    # a stack pointer at a variable offset: against the live frames only (<=, no <)
    ("mov %r0, 0\njeq %r2, 0, out\nldxb %r4, [%r1]\nlsh %r4, 4\nmov %r3, %r10\n"
     "add %r3, -8\nsub %r3, %r4\nstdw [%r10-16], 0\nstdw [%r10-8], 0\n"
     "ldxb %r0, [%r3]\nout:\nexit", "icmp ule", "icmp ult"),
])
def test_llvm_checks_only_the_region_the_verifier_knows(text, compare, not_compare):
    """The verifier knows which region an unproven access's base points into; the llvm
    engine, like peachpy, then checks only that region (one compare, not two)."""
    from bpfjit.backends.llvm import build_image
    from bpfjit.verifier import verify
    verified = verify(bpfjit.assemble(text), helpers={}, cache=False)
    assert verified.proven != set(verified.accesses)
    _, extra = build_image(verified, frozenset(), keep_ir=True)
    body = extra["ir"].split('@"bpf_sub_0"', 1)[1].split("\n}\n", 1)[0]
    access = body[body.index("icmp sge"):]            # after the budget's checkpoint
    assert compare in access and not_compare not in access


def test_the_linker_supplies_the_trap_routine_llvm_code_calls():
    # bpf_trap(run, code, pc, arg, size) — System V: rdi, rsi, rdx, rcx, r8 — stores the
    # four into the run structure's first four fields (trap, trap_pc, trap_arg, trap_size:
    # 8 bytes each, bpfjit.runfields), and LLVM no longer compiles it in every module
    capstone = pytest.importorskip("capstone")
    from bpfjit.backends.objlink import ROUTINES
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    text = [f"{i.mnemonic} {i.op_str}".strip() for i in md.disasm(ROUTINES["bpf_trap"], 0)]
    assert text == ["mov qword ptr [rdi], rsi", "mov qword ptr [rdi + 8], rdx",
                    "mov qword ptr [rdi + 0x10], rcx", "mov qword ptr [rdi + 0x18], r8",
                    "ret"]
    if "llvm" not in JITS:
        return
    # each field reaches the exception: pc, size, and whether it was a write
    for text, pc, size, write in (("mov %r2, 7\nldxdw %r0, [%r1+16]\nexit", 1, 8, False),
                                  ("mov %r0, 0\nja +0\nstw [%r1+18], 1\nexit", 2, 4, True)):
        fn = bpfjit.compile(bpfjit.assemble(text), "llvm", cache=False, keep_ir=True)
        assert 'declare void @"bpf_trap"' in fn.extra["ir"]
        with pytest.raises(bpfjit.MemoryAccessError) as err:     # a 20-byte buffer
            fn(bytearray(20))
        assert (err.value.pc, err.value.size, err.value.write) == (pc, size, write)
