"""Two shapes of clang's BPF output the peachpy JIT lowers in fewer instructions
(backends.x86jumps, backends.x86addressing): a loop latch `jgt a, b, +1; ja exit`
taken as one negated jump, and an array index shifted, added to a base and loaded
through, as one scaled-index load.  Values on every engine, worked out by hand; the
budget and the traps where the interpreter has them; the code they become."""

import pytest

import bpfjit
from bpfjit import BudgetExceeded, MemoryAccessError

# the sum of the buffer's bytes, laid out as clang lays out a loop: its latch (4-6)
# before its head (7), the latch ending in a conditional jump over a `ja` to the exit
SUM_BYTES = """
mov r0, 0
mov r3, 0
jeq r2, 0, +9
ja +3
add r3, 1
jgt r2, r3, +1
ja +5
mov r4, r1
add r4, r3
ldxb r4, [r4+0]
add r0, r4
ja -8
exit
"""

# eight u32 at r10-32 .. r10-4 holding 100 .. 107, one read back at index mem[0] & 7
TABLE = "".join(f"stw [r10{-32 + 4 * k}], {100 + k}\n" for k in range(8))
SCALED = TABLE + """ldxb r5, [r1+0]
and r5, 7
lsh r5, 2
mov r6, r10
add r6, -32
add r6, r5
ldxw r0, [r6+0]
exit
"""


def listing(text: str) -> str:
    from bpfjit.nativedis import native_listing
    fn = bpfjit.compile(bpfjit.assemble(text), "peachpy", cache=False, line_info=True)
    return native_listing(fn.program, fn.memory.code, fn.memory.address,
                          fn.extra.get("symbols", {}), fn.extra.get("lines"))


def needs_peachpy():
    if "peachpy" not in bpfjit.engines():
        pytest.skip("peachpy is not available")


@pytest.mark.parametrize("mem, expected", [
    (b"", 0), (bytes(range(1, 11)), 55), (b"\xff" * 300, 255 * 300)])
def test_a_loop_whose_latch_jumps_over_its_exit_sums_the_bytes(engine, mem, expected):
    assert bpfjit.compile(bpfjit.assemble(SUM_BYTES), engine)(mem) == expected


def test_the_latch_loop_runs_out_of_budget_at_its_head(engine):
    # the only backward jump (pc 11) goes to pc 4: the loop's checkpoint
    prog = bpfjit.assemble(SUM_BYTES)
    with pytest.raises(BudgetExceeded) as info:
        bpfjit.compile(prog, engine, budget=40)(bytes(100))
    assert info.value.pc == 4


# after the first loop, a second counts down from the first's sum: the budget the
# first loop's exit charged decides where the second runs out
TWO_LOOPS = SUM_BYTES.replace("exit", """mov r5, r0
jeq r5, 0, +2
sub r5, 1
ja -3
exit""")


def outcome(prog, engine, budget, mem):
    try:
        return bpfjit.compile(prog, engine, budget=budget, cache=False)(mem)
    except BudgetExceeded as exc:
        return ("budget", exc.pc)


@pytest.mark.parametrize("length", [0, 1, 3])
def test_the_exit_of_a_folded_latch_charges_what_the_interpreter_charges(engine, length):
    prog = bpfjit.assemble(TWO_LOOPS)
    mem = bytes([2] * length)
    for budget in range(1, 60):
        assert outcome(prog, engine, budget, mem) == outcome(prog, "interp", budget, mem), \
            budget


def test_peachpy_takes_the_latch_as_one_negated_jump():
    needs_peachpy()
    text = listing(SUM_BYTES)
    marks = [line.strip().split(":")[0] for line in text.splitlines()
             if line.strip().startswith("; ")]
    # the `ja` at 6 is out of line, after the exit: the latch falls into the body
    assert marks.index("; 6") > marks.index("; 12")
    latch = text[text.index("; 5:"):text.index("; 12:")]
    assert "jbe" in latch and "ja " not in latch.split("; 9:")[0]


@pytest.mark.parametrize("first", range(10))
def test_a_scaled_index_reads_the_item_it_names(engine, first):
    got = bpfjit.compile(bpfjit.assemble(SCALED), engine)(bytes([first]))
    assert got == 100 + (first & 7)


def test_peachpy_loads_through_a_scaled_index():
    needs_peachpy()
    text = listing(SCALED)
    body = text[text.index("; 9:"):text.index("; 15:")]
    assert "*4 - 0x20]" in body and "shl" not in body and "lea" not in body


# the index unbounded: the access is checked at run time, its address built by a
# scaled lea whose index register still holds the value before the shift
CHECKED = SCALED.replace("ldxb r5, [r1+0]\nand r5, 7\n", "ldxw r5, [r1+0]\n")


@pytest.mark.parametrize("index, expected", [
    (0, 100), (3, 103), (7, 107), (8, None), (20, None), (2**30, None)])
def test_a_checked_access_through_a_scaled_index_traps_past_the_frame(engine, index,
                                                                      expected):
    # r10 - 32 + 4 * index: inside the frame for index 0..7, above its top from 8 on
    fn = bpfjit.compile(bpfjit.assemble(CHECKED), engine)
    mem = index.to_bytes(4, "little")
    if expected is None:
        with pytest.raises(MemoryAccessError) as info:
            fn(mem)
        assert info.value.pc == 13            # the ldxw through r6 (8 stores, then 5)
    else:
        assert fn(mem) == expected


@pytest.mark.parametrize("first", [0, 5, 6])
def test_an_address_read_twice_is_kept_and_read_once_is_folded(engine, first):
    # r6 = r10 - 32 + i, read at +0 and +4: two adjacent u32 of the table (i = 4 * k)
    text = TABLE + """ldxb r5, [r1+0]
and r5, 6
lsh r5, 2
mov r6, r10
add r6, -32
add r6, r5
ldxw r0, [r6+0]
ldxw r1, [r6+4]
lsh r0, 8
or r0, r1
exit
"""
    k = first & 6
    assert bpfjit.compile(bpfjit.assemble(text), engine)(bytes([first])) == \
        (100 + k) << 8 | (101 + k)


def test_peachpy_folds_an_address_into_a_load_into_another_register():
    needs_peachpy()
    text = listing(TABLE + """ldxb r5, [r1+0]
and r5, 31
mov r6, r10
add r6, -32
add r6, r5
ldxb r0, [r6+0]
exit
""")
    body = text[text.index("; 9:"):text.index("; 14:")]
    # r6 is read by nothing after the load: no lea, one movzx from rbp + r5 - 32
    assert "lea" not in body and "- 0x20]" in body
