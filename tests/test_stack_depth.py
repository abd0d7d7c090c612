"""How much of the stack a run may touch (VerifiedProgram.stack_depth, .stack_used).

The engines zero that much at entry, not the whole 512-byte frame, and helpers are
given pointers into it only.  Each depth below is worked out by hand from the offsets
the program uses, rounded up to 64 bytes; the run tests check that what is zeroed is
still zeroed on every run (a byte one run wrote is not seen by the next).
"""

import pytest

import bpfjit


def depth(text: str, **kwargs) -> tuple[int, int]:
    v = bpfjit.verify(bpfjit.assemble(text), cache=False, **kwargs)
    return v.stack_depth, v.stack_used


def test_a_program_without_stack_accesses_touches_none():
    assert depth("mov %r0, 1\nexit") == (0, 0)


@pytest.mark.parametrize("offset,expected", [(8, 64), (64, 64), (72, 128), (200, 256),
                                             (505, 512), (512, 512)])
def test_the_deepest_access_sets_the_depth(offset, expected):
    # an 8-byte store at r10-offset touches bytes from `offset` below the top (a
    # 1-byte store for the odd offset)
    size = "b" if offset % 8 else "dw"
    assert depth(f"st{size} [%r10-{offset}], 1\nmov %r0, 0\nexit") == (expected, expected)


def test_a_variable_offset_counts_its_lowest_value():
    # r3 in [0, 15]: the store reaches r10-8-15*8 = r10-128 at the lowest
    text = """
        mov %r3, %r2
        and %r3, 15
        lsh %r3, 3
        mov %r4, %r10
        add %r4, -8
        sub %r4, %r3
        stdw [%r4], 1
        mov %r0, 0
        exit
    """
    assert depth(text) == (128, 128)


def test_a_stack_access_checked_at_run_time_may_touch_the_whole_frame():
    # r4 = r10 - len: the verifier cannot bound it, so the access is checked against
    # the live frame at run time, and all of the frame must be zeroed
    text = """
        mov %r4, %r10
        sub %r4, %r2
        stb [%r4-1], 1
        mov %r0, 0
        exit
    """
    v = bpfjit.verify(bpfjit.assemble(text), cache=False)
    assert v.needs_check(2)
    assert (v.stack_depth, v.stack_used) == (512, 512)


def test_a_pointer_given_to_a_helper_counts():
    # the helper fills 16 bytes at r10-200; the program itself reads only r10-192
    text = """
        mov %r1, %r10
        add %r1, -200
        mov %r2, 16
        call 100
        ldxdw %r0, [%r10-192]
        exit
    """
    fill = bpfjit.Helper(lambda *args: 0, args=("out", "size"), result="errno")
    assert depth(text, helpers={100: fill}) == (256, 256)


def test_every_frame_but_the_deepest_is_whole():
    # main calls f; f uses 16 bytes of its frame: main's frame whole, f's top 64
    text = """
        call local f
        exit
    f:
        stdw [%r10-16], 3
        ldxdw %r0, [%r10-16]
        exit
    """
    v = bpfjit.verify(bpfjit.assemble(text), cache=False)
    assert v.frames == 2
    assert (v.stack_depth, v.stack_used) == (64, 512 + 64)


MAYBE_WRITTEN = """
    jeq %r2, 0, skip
    stdw [%r10-8], 7
skip:
    ldxdw %r0, [%r10-8]
    exit
"""


def test_bytes_a_run_wrote_are_zero_again_in_the_next(engine):
    # with a buffer the store runs; without, the load reads bytes nothing wrote in
    # this run: 0, whatever the previous run left there
    fn = bpfjit.compile(bpfjit.assemble(MAYBE_WRITTEN), engine)
    assert fn(bytearray(b"x")) == 7
    assert fn(bytearray()) == 0
    assert fn(bytearray(b"x")) == 7
    assert fn(bytearray()) == 0


def test_deep_bytes_are_zero_again_in_the_next_run(engine):
    # the same at the bottom of the frame, through a variable offset
    text = """
        mov %r3, 504
        jeq %r2, 0, skip
        mov %r4, %r10
        sub %r4, %r3
        stdw [%r4-8], 9
    skip:
        ldxdw %r0, [%r10-512]
        exit
    """
    fn = bpfjit.compile(bpfjit.assemble(text), engine)
    assert fn(bytearray(b"x")) == 9
    assert fn(bytearray()) == 0


def test_a_stack_pointer_passed_to_a_helper_of_unknown_arguments_counts():
    # callx names its helper in a register, and a helper without a signature may read
    # through any pointer it is given: both count r1 = r10-300 (rounded up: 320)
    for call in ("mov %r3, 100\ncallx %r3", "call 100"):
        text = f"mov %r1, %r10\nadd %r1, -300\n{call}\nmov %r0, 0\nexit"
        assert depth(text, helpers={100: lambda *args: 0}) == (320, 320), call


@pytest.mark.parametrize("options,words", [
    ({"frames": 0}, "frames must be an int from 1 to 8"),
    ({"frames": 9}, "frames must be an int from 1 to 8"),
    ({"frames": True}, "frames must be an int"),
    ({"frames": 2.0}, "frames must be an int"),
    ({"stack_used": -64}, "stack_used must be None or an int from 0 to 4096"),
    ({"frames": 1, "stack_used": 576}, "from 0 to 512 (1 frame(s) of 512 bytes)"),
    ({"stack_used": "64"}, "stack_used must be None or an int"),
])
def test_the_interpreter_refuses_frames_and_stack_it_cannot_have(options, words):
    # the engines pass what the verifier found; someone building an Interpreter by hand
    # gets a clear error for values no run could have (1-8 frames of 512 bytes)
    from bpfjit.interpreter import Interpreter
    with pytest.raises(bpfjit.BpfError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Interpreter(bpfjit.assemble("mov %r0, 0\nexit"), **options)


def test_the_interpreter_takes_the_frames_and_stack_the_verifier_found():
    from bpfjit.interpreter import Interpreter
    prog = bpfjit.assemble("stdw [%r10-8], 5\nldxdw %r0, [%r10-8]\nexit")
    v = bpfjit.verify(prog, cache=False)
    assert Interpreter(prog, frames=v.frames, stack_used=v.stack_used)() == 5
