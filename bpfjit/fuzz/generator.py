"""Hypothesis strategies for programs the verifier accepts, so that failures shrink.

A generated program is: a prologue that saves the buffer pointer in r6 and gives
the data registers and 64 bytes of stack a value; a body of random instructions
(every ALU/ALU32 operation, byte swaps, sign extension, lddw, loads, stores and
atomics on the buffer and the stack at valid and sometimes invalid addresses,
forward jumps, bounded loops, helper calls, callx, local calls); then exit.
Engines place the buffer and the stack at different addresses, so the value of a
pointer must never reach a result: r6 and r10 are only ever memory bases, and r1
is only ever an argument or scratch, written before it is read.

So that a wrong value anywhere is seen, not only in r0: before the main exit, an
epilogue folds every data register (r0, r2-r5, r7-r9), the stack the prologue wrote
(four slots of it only when the buffer's length passes a bound: a run reads the others
unwritten, and the stack must start zeroed) and an accumulator into r0, with a
bijective step per value (xor, multiply by an odd constant, byte swap), so two runs
that differ in any of them end with different r0 (unless by a 2**-64 chance).  A
value overwritten before the end would be lost, so probes record what happens on the
way in the accumulator, a stack slot nothing else writes: the result of an ALU
operation, the value an atomic operation fetched and the memory it
left, and whether a conditional jump was taken — a jump whose operands sit at the
boundary where its condition flips (the same value, one more, one less; in registers
or as an immediate), so that a strict compare in place of a non-strict one, or the
wrong signedness, changes the path.  Registers start at values where semantics split
(0, +-1, INT_MIN/MAX of both widths, values with a non-zero upper half for the 32-bit
operations), an operation reads its own destination a quarter of the time, every
mnemonic of a kind is equally likely (not every encoding), and registers are stored
whole into the stack along the way.

Outside kernel mode, the buffer pointer is also spilled into slots no result reads
(`BASE_SLOTS`: r10-112, and in half the programs r10-504, just above the frame's
lowest dword, which a callee's loads "just outside" its frame read) and now and then
reloaded into r1 as the base of a load; half the local calls pass r1 = a pointer into
the caller's frame, through which the callee loads and stores — inside that frame, in
its own frame below, above the stack — and the callee stores above its own frame's top
(r10+off: the caller's lowest bytes, r10+8 its copy at r10-504); one callee in six
returns a pointer into its own frame or NULL, which its caller reads through (the dead
frame: a trap).  A store that lands
on a spilled base makes its reload trap in the interpreter; a verifier that still trusted the spill would let a
JIT read through data (the verifier's caller-frame reasoning, bpfjit.verifier.localcalls).
"""

from __future__ import annotations

from hypothesis import strategies as st

from ..asm import assemble
from ..program import Program
from .draws import (ACCUMULATOR, BASE_SLOTS, DATA, FRAME_INIT, LOOP_DATA, _COND, _alu, _cached,
                    _choice, _imm, _lddw, _maybe_written, _reg, _unary, _value64, accumulate,
                    fold_epilogue, mirror_offset)
from .memitems import (_element_array, _helper_call, _map_op, _memory, _moved_pair,
                       _reloaded_base, _stack_walk, _through_caller, _walk)
from .probes import (_alu_probe, _atomic_probe, _compare_probe, _divide_probe, _equal_loads,
                     _idiom, _idiom_probe, _load_probe, _observe, _own_base, _select_probe,
                     _signed_divide_probe, _verifier_idiom, _width_probe)
from .maps import VALUE_SIZE

__all__ = ["programs", "xdp_prologue"]


@_cached
def _simple(regs, mem_len: int | None, kernel: bool = False, bases: tuple = ()):
    """One item.  Probes record into the accumulator, so only where it is: in the main
    subprogram (mem_len not None), not in a callee, whose frame has none."""
    items = [_alu(regs, kernel), _alu(regs, kernel), _alu(regs, kernel), _unary(regs),
             _lddw(regs), _memory(regs, mem_len, kernel), _memory(regs, mem_len, kernel),
             _observe(regs)]
    if mem_len is None:
        items.append(_idiom(regs))
    else:
        mirror = mirror_offset(mem_len, kernel)
        items.append(_idiom_probe(regs, kernel, mirror))
        if not kernel:      # (the kernel refuses a stack index it cannot bound)
            items.append(_verifier_idiom(regs, mirror))
        items += [_alu_probe(regs, kernel, mirror), _alu_probe(regs, kernel, mirror),
                  _compare_probe(regs, kernel, mirror), _compare_probe(regs, kernel, mirror),
                  _signed_divide_probe(regs, kernel, mirror),
                  _atomic_probe(regs, mem_len, kernel),
                  _load_probe(regs, mem_len, kernel)]
        if bases and mem_len:
            items.append(_reloaded_base(regs, mem_len, bases))
    return st.one_of(*items)


@st.composite
def _block(draw, mem_len: int | None, labels: list[int], depth: int = 0,
           kernel: bool = False, in_loop: bool = False, bases: tuple = ()) -> list[str]:
    """A list of items: single instructions, jumps over items, loops, calls.

    `labels` counts the labels made so far in this program, so each is unique.
    `kernel`: no helpers of the test's, only the map helpers (the kernel engine runs
    its own on twins of the fuzz maps).  `in_loop`: the body of
    a loop.  `bases`: the slots holding a copy of the buffer pointer."""
    items: list[list[str]] = []
    # a program's prologue and epilogue are ~120 instructions whatever its body: a
    # longer body (4-16 items at the top, 1-6 nested) tests more for the compile time
    for _ in range(draw(st.integers(4, 16) if depth == 0 else st.integers(1, 6))):
        rare = draw(st.integers(0, 11)) if depth == 0 and not kernel \
            and mem_len is not None else None
        if rare == 0:
            items.append(draw(_walk(mem_len, labels)))
            continue
        if rare == 11 and draw(st.integers(0, 1)):     # an array chased through itself
            items.append(draw(_element_array(DATA, mirror_offset(mem_len, kernel))))
            continue
        if rare == 10 and draw(st.integers(0, 1)):     # an integer built over its address
            items.append(draw(_own_base(DATA)))
            continue
        if rare == 9 and mem_len and draw(st.integers(0, 1)):   # the frame walked
            items.append(draw(_stack_walk(labels)))
            continue
        if depth == 0 and mem_len is not None and draw(st.integers(0, 7)) == 7:
            # a division by a common constant, a jump over one move (what the JITs
            # lower as a reciprocal multiply or a cmov) or a 32-bit result from a
            # register whose upper half is set, now and then
            mirror = mirror_offset(mem_len, kernel)
            items.append(draw(st.one_of(_divide_probe(DATA, kernel, mirror),
                                        _select_probe(DATA, mem_len, kernel),
                                        _width_probe(DATA, kernel, mirror))))
            continue
        choice = draw(st.integers(0, 12))           # 0-8: one instruction or probe
        choice = 0 if choice <= 8 else choice - 3
        if choice == 8 and in_loop and mem_len is not None and mem_len >= 2 and not kernel:
            # two loads a loop's fast copy still checks, as one group; half the time
            # the group ends a block (bpfjit.checkplan, coverage's "plan" cells)
            pair = draw(_moved_pair(LOOP_DATA, mem_len))
            if draw(st.booleans()):
                labels[0] += 1
                label = f"skip{labels[0]}"
                pair = [f"jset {draw(_reg(LOOP_DATA))}, 1, {label}", *pair, f"{label}:"]
            items.append(pair)
        elif choice <= 5 or (depth > 0 and choice != 7) or depth > 1:
            items.append(draw(_simple(DATA if depth == 0 else LOOP_DATA, mem_len, kernel,
                                      bases)))
        elif choice == 6:       # a map, or (not for the kernel) a helper of the test's
            maps = kernel or draw(st.booleans())
            items.append(draw(_map_op(DATA, kernel) if maps else _helper_call(DATA)))
        elif choice == 7:       # a conditional jump over what follows
            inner = draw(_block(mem_len, labels, depth + 1, kernel, bases=bases))
            cond = draw(_choice(_COND))
            regs = DATA if depth == 0 else LOOP_DATA
            loads = []
            if mem_len and draw(st.integers(0, 3)) == 0:
                # one jump in four on two equal values (probes._equal_loads)
                loads, a, b = draw(_equal_loads(regs, mem_len))
                lhs, rhs = f"%r{a}", f"%r{b}"
            else:
                rhs = draw(_reg(regs)) if draw(st.booleans()) else str(draw(_imm()))
                lhs = draw(_reg(regs))
            labels[0] += 1
            label = f"skip{labels[0]}"
            test = f"{cond} {lhs}, {rhs}"
            if kernel and mem_len is not None and draw(st.integers(0, 3)) == 0:
                # a NULL test of the packet pointer, at either width: never NULL, so
                # decided (and, at 32 bits, hard-wired: the address's low half, which
                # differs between the engines, must not decide it), as in the kernel
                test = f"{draw(_choice(['jeq32', 'jne32', 'jeq', 'jne']))} %r6, 0"
            items.append([*loads, f"{test}, {label}", *inner, f"{label}:"])
        elif choice == 8:       # a bounded loop counting r9 down
            inner = draw(_block(mem_len, labels, depth + 1, kernel, in_loop=True,
                                bases=bases))
            labels[0] += 1
            label = f"loop{labels[0]}"
            items.append([f"mov %r9, {draw(st.integers(1, 6))}", f"{label}:", *inner,
                          "sub %r9, 1", f"jne %r9, 0, {label}"])
        else:                   # a local call to a generated subprogram
            items.append(["CALL"])
    return [line for item in items for line in item]


@st.composite
def _loop_call(draw, n: int, labels: list[int], kernel: bool) -> tuple[list[str], list[str]]:
    """bpf_loop(trips, cb<n>, r10 - below, flags) and its callback: the callback adds
    its index to the 8 bytes at ctx (a slot the prologue wrote, folded at exit), runs a
    callee's body (and, outside kernel mode, loads and stores through ctx around the
    caller's frame), and stops the loop at index `stop` (-1: never).  The trips made go
    to a data register.  The kernel's verifier takes it too: flags 0, few trips, ctx
    8-aligned in what the prologue wrote, r0 0 or 1 at the callback's exit."""
    # (kernel mode: no 0 -- after a bpf_loop of 1 trip, one of 0 trips with another
    # callback makes this kernel (6.18) refuse the program: "verifier bug: No program
    # to jit at insn N (subprog < 0)")
    trips = draw(_choice([1, 2, 3, 5] if kernel else [0, 1, 2, 3, 5]))
    flags = 1 if not kernel and draw(st.integers(0, 7)) == 0 else 0
    below = 8 * draw(st.integers(1, FRAME_INIT // 8))
    stop = draw(st.integers(-1, trips))
    made = draw(_choice([7, 8, 9]))
    caller = [f"mov %r1, {trips}", f"lddw %r2, code_addr(cb{n})", "mov %r3, %r10",
              f"add %r3, -{below}", f"mov %r4, {flags}", "call 181", f"mov %r{made}, %r0"]
    caller += [f"mov %r{i}, {draw(_imm())}" for i in range(1, 6)]
    callback = [f"cb{n}:", "mov %r6, %r2", "mov %r7, %r1"]
    callback += [f"mov %r{r}, {draw(_imm())}" for r in (2, 3, 4, 5, 8)]
    callback += [f"stdw [%r10-{off}], {draw(_imm())}" for off in range(8, FRAME_INIT + 1, 8)]
    callback += ["ldxdw %r0, [%r6+0]", "add %r0, %r7", "stxdw [%r6+0], %r0"]
    return caller, callback + draw(_callback_end(labels, kernel, below, stop))


@st.composite
def _callback_end(draw, labels: list[int], kernel: bool, below: int, stop: int
                  ) -> list[str]:
    """A callback's last part: a callee's body (and, outside kernel mode, loads and
    stores through ctx, in r6, around the caller's frame), then r0 = 1 where r7 is
    `stop`, else 0."""
    body = draw(_block(None, labels, 1, kernel))
    if not kernel:
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(body)))
            body[at:at] = draw(_through_caller(LOOP_DATA, below))
    return body + ["mov %r0, 0", f"jne %r7, {stop}, +1", "mov %r0, 1", "exit"]


@st.composite
def _for_each_call(draw, n: int, labels: list[int], kernel: bool
                   ) -> tuple[list[str], list[str]]:
    """bpf_for_each_map_elem(a fuzz map, cb<n>, r10 - below, flags) and its callback:
    the callback adds the key's first word and the value's first 8 bytes to the 8
    bytes at ctx, may write the value, may delete the element (the hash's from inside
    the walk; the array's gives -EINVAL), runs a callee's body and stops at the element
    whose key is `stop` (-1: never).  The elements visited go to a data register.  In
    kernel mode a hash map is walked whole and every effect is the element's own (no
    body, whose map items could add or remove other keys, and no stop): the kernel's
    order of a hash map's elements is not bpfjit's."""
    which = draw(st.integers(0, 1))              # bpfjit.fuzz.maps: ARRAY, HASH
    flags = 1 if not kernel and draw(st.integers(0, 7)) == 0 else 0
    below = 8 * draw(st.integers(1, FRAME_INIT // 8))
    unordered = kernel and which == 1
    stop = draw(st.integers(-1, 4))
    made = draw(_choice([7, 8, 9]))
    # the count of elements visited is recorded at once, as well as kept in a register
    # (where a later write could hide a wrong one)
    caller = [f"lddw %r1, map_by_fd({which})", f"lddw %r2, code_addr(cb{n})",
              "mov %r3, %r10", f"add %r3, -{below}", f"mov %r4, {flags}", "call 164",
              *accumulate("%r0", kernel), f"mov %r{made}, %r0"]
    caller += [f"mov %r{i}, {draw(_imm())}" for i in range(1, 6)]
    callback = [f"cb{n}:", "mov %r6, %r4", "ldxw %r7, [%r2+0]", "ldxdw %r8, [%r3+0]",
                "add %r8, %r7"]
    if draw(st.booleans()):                      # the value is the callback's to write
        size, suffix = draw(_choice([(1, "b"), (4, "w"), (8, "dw")]))
        offset = draw(st.integers(0, (VALUE_SIZE - size) // size)) * size
        callback.append(f"stx{suffix} [%r3+{offset}], %r7")
    if draw(st.integers(0, 2)) == 0:             # delete it: r1, r2 are the map and key
        callback += ["call 3", "add %r8, %r0"]
    callback += ["ldxdw %r0, [%r6+0]", "add %r0, %r8", "stxdw [%r6+0], %r0"]
    callback += [f"mov %r{r}, {draw(_imm())}" for r in (1, 2, 3, 4, 5, 8)]
    callback += [f"stdw [%r10-{off}], {draw(_imm())}" for off in range(8, FRAME_INIT + 1, 8)]
    if unordered:
        return caller, callback + ["mov %r0, 0", "exit"]
    return caller, callback + draw(_callback_end(labels, kernel, below, stop))


def xdp_prologue(length: int) -> list[str]:
    """An XDP program's start that the kernel's verifier accepts: r6 = the packet,
    whose `length` bytes the `data_end` test proves readable (a shorter packet ends
    the run with r0 = 0)."""
    return ["ldxw %r2, [%r1+0]", "ldxw %r3, [%r1+4]", "mov %r6, %r2", f"add %r2, {length}",
            "mov %r0, 0", "jle %r2, %r3, +1", "exit"]


@st.composite
def programs(draw, max_mem: int = 64, kernel: bool = False) -> tuple[Program, bytes]:
    """(program, input memory) pairs; the program passes the verifier in checked mode.

    `kernel`: XDP programs the kernel's verifier accepts too (bpfjit.backends.kerneljit):
    the memory is the packet, starting with the data registers' values (loaded from it,
    so that no verifier knows them), every access valid and aligned where the kernel
    wants it, atomics on the stack only, no helper calls."""
    if kernel:
        values = [draw(_value64()) for _ in DATA]
        mem = b"".join(v.to_bytes(8, "little") for v in values)
        mem += draw(st.binary(min_size=0, max_size=max(max_mem - len(mem), 0)))
        prologue = xdp_prologue(len(mem))
        prologue += [f"ldxdw %r{r}, [%r6+{8 * i}]" for i, r in enumerate(DATA)]
    else:
        mem = draw(st.binary(min_size=0, max_size=max_mem))
        prologue = ["mov %r6, %r1"] + draw(_maybe_written(len(mem)))
        prologue += [f"lddw %r{r}, {draw(_value64()):#x}" for r in DATA]
    prologue += [f"stdw [%r10-{off}], {draw(_imm())}" for off in range(8, FRAME_INIT + 1, 8)]
    prologue += [f"stdw [%r10-{ACCUMULATOR}], 0"]
    # the copy at the frame's bottom in half the programs: it makes a run reach the whole
    # frame, and the other half keep a shallow one (the stack zeroing's mutants)
    bases = () if kernel else BASE_SLOTS if draw(st.booleans()) else BASE_SLOTS[:1]
    prologue += [f"stxdw [%r10-{slot}], %r6" for slot in bases]
    labels = [0]
    body = draw(_block(len(mem), labels, kernel=kernel, bases=bases))
    callees: list[list[str]] = []
    lines = []
    mem = bytearray(mem)
    for line in body:
        if line.startswith("SETLEN"):                        # a walk's room (_walk)
            more = int(line.split()[1]) - len(mem)
            mem += draw(st.binary(min_size=more, max_size=more)) if more > 0 else b""
        elif line == "CALL" and draw(st.integers(0, 2)) == 0:   # a callback of bpf_loop
            walk = draw(st.integers(0, 2)) == 0         # ... or of for_each_map_elem
            caller, callback = draw((_for_each_call if walk else _loop_call)(
                len(callees), labels, kernel))
            callees.append(callback)
            lines += caller
        elif line == "CALL":
            n = len(callees)
            callee = [f"sub{n}:", f"mov %r0, {draw(_imm())}"]
            callee += [f"mov %r{r}, {draw(_imm())}" for r in (6, 7, 8, 9)]
            callee += [f"stdw [%r10-{off}], {draw(_imm())}"
                       for off in range(8, FRAME_INIT + 1, 8)]
            body = draw(_block(None, labels, 1, kernel))
            below = None if kernel or draw(st.booleans()) else 8 * draw(st.integers(1, 14))
            for _ in range(0 if below is None else draw(st.integers(1, 4))):
                at = draw(st.integers(0, len(body)))
                body[at:at] = draw(_through_caller(LOOP_DATA, below))
            if below is not None:       # r6: the caller's pointer, which no item writes
                callee.append("mov %r6, %r1")
            # now and then the callee returns a pointer into its own frame or NULL, which
            # the caller reads through when it is not NULL: the frame is gone, below the
            # live one, and the read traps (a verifier that took it for a pointer into
            # the caller's frame let the JITs read the dead frame unchecked)
            dead = not kernel and draw(st.integers(0, 5)) == 0
            if dead:
                body += ["mov %r0, 0", "jgt %r7, %r8, +2", "mov %r0, %r10",
                         f"add %r0, -{8 * draw(st.integers(1, FRAME_INIT // 8))}"]
            callees.append(callee + body + ["exit"])
            lines += [f"mov %r{i}, {draw(_imm())}" for i in range(1, 6)]
            if below is not None:       # r1: a pointer into this frame, not a number
                lines += ["mov %r1, %r10", f"add %r1, -{below}"]
            lines += [f"call local sub{n}"]
            if dead:
                lines += ["jeq %r0, 0, +1", "ldxdw %r0, [%r0+0]"]
            lines += [f"mov %r{i}, {draw(_imm())}" for i in range(2, 6)]
        else:
            lines.append(line)
    text = "\n".join(prologue + lines + fold_epilogue(maybe_written=not kernel) + ["exit"]
                     + [l for c in callees for l in c])
    prog = assemble(text)
    if kernel:
        prog = Program(prog.insns, context="xdp", prog_type="xdp")
    return prog, bytes(mem)
