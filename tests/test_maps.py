"""Maps and the kernel's helpers: the kernel's semantics from Python and from programs,
and what the verifier demands of map pointers."""

import errno

import pytest
from hypothesis import given, settings, strategies as st

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import (BPF_ANY, BPF_EXIST, BPF_NOEXIST, ArrayMap, HashMap, MapError,
                         MapSpec, MapTable)

M64 = 2**64


def array(entries=4, value=8):
    return ArrayMap(MapSpec("a", 2, 4, value, entries))


def hashmap(entries=2, key=4, value=8):
    return HashMap(MapSpec("h", 1, key, value, entries))


# ---- from Python ------------------------------------------------------------------------------

def test_array_elements_always_exist_and_start_zeroed():
    m = array()
    assert len(m) == 4 and m[3] == bytes(8) and list(m.ints()) == [0, 1, 2, 3]
    m[1] = 7
    assert m.ints()[1] == 7 and m[1] == (7).to_bytes(8, "little")


@pytest.mark.parametrize("call,err", [
    (lambda m: m.update(4, 1), errno.E2BIG),               # past max_entries
    (lambda m: m.update(0, 1, BPF_NOEXIST), errno.EEXIST),  # every element exists
    (lambda m: m.update(0, 1, 7), errno.EINVAL),            # unknown flags
    (lambda m: m.delete(0), errno.EINVAL),                  # arrays cannot delete
])
def test_array_errors_are_the_kernels(call, err):
    with pytest.raises(MapError) as info:
        call(array())
    assert info.value.errno == err


def test_array_lookup_out_of_range_is_missing():
    m = array()
    assert m.lookup_slot((4).to_bytes(4, "little")) is None
    with pytest.raises(KeyError):
        m[4]


def test_hash_update_flags_and_capacity():
    m = hashmap(entries=2)
    m.update(1, 10, BPF_NOEXIST)
    with pytest.raises(MapError) as info:
        m.update(1, 11, BPF_NOEXIST)
    assert info.value.errno == errno.EEXIST
    with pytest.raises(MapError) as info:
        m.update(2, 20, BPF_EXIST)
    assert info.value.errno == errno.ENOENT
    m.update(1, 12, BPF_EXIST)
    m.update(2, 20, BPF_ANY)
    with pytest.raises(MapError) as info:
        m.update(3, 30)
    assert info.value.errno == errno.E2BIG
    assert m.ints() == {1: 12, 2: 20}
    del m[1]
    with pytest.raises(KeyError):
        del m[1]
    m[3] = 30                                   # the freed slot is reused
    assert m.ints() == {2: 20, 3: 30}


def test_keys_and_values_are_checked():
    m = hashmap(key=4)
    with pytest.raises(MapError, match="4 bytes"):
        m[b"abc"] = 1
    with pytest.raises(MapError, match="does not fit"):
        m[1 << 40] = 1
    with pytest.raises(bpfjit.BpfError, match="bytes or an int"):
        m["x"] = 1


# ---- from programs ------------------------------------------------------------------------------

def program(text, *maps):
    base = bpfjit.assemble(text)
    return bpfjit.Program(base.insns, env=KernelEnv(MapTable(list(maps))))


LOOKUP_OR_INSERT = """
    stw [%r10-4], 3                 # key = 3
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1                          # map_lookup_elem(map, &key)
    jeq %r0, 0, missing
    ldxdw %r0, [%r0]
    exit
missing:
    stdw [%r10-16], 99
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 1                      # BPF_NOEXIST
    call 2                          # map_update_elem -> 0
    add %r0, 1000
    exit
"""


def test_lookup_then_insert_from_a_program(engine):
    m = hashmap(entries=4)
    fn = bpfjit.compile(program(LOOKUP_OR_INSERT, m), engine)
    assert fn() == 1000              # not there: inserted, update returned 0
    assert fn() == 99                # now found
    assert m.ints() == {3: 99}


def test_helpers_return_negative_errno(engine):
    text = """
        stw [%r10-4], 9
        stdw [%r10-16], 1
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call 2                      # array index 9 >= 4: -E2BIG
        mov %r6, %r0
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        call 3                      # arrays cannot delete: -EINVAL
        lsh %r6, 8
        neg %r0
        add %r0, %r6
        exit
    """
    result = bpfjit.compile(program(text, array()), engine)()
    assert result == ((-errno.E2BIG % M64) << 8) % M64 + errno.EINVAL


def test_a_lookup_result_must_be_checked_before_use():
    text = """
        stw [%r10-4], 0
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        call 1
        ldxdw %r0, [%r0]
        exit
    """
    # strict mode refuses it, as the kernel does; checked mode checks it at run time
    with pytest.raises(bpfjit.VerifierError, match="compare it with 0"):
        bpfjit.compile(program(text, array()), mode="strict")
    verified = bpfjit.verify(program(text, array()), cache=False)
    assert 6 in verified.accesses and 6 not in verified.proven    # (lddw: 2 slots)


def test_a_copy_of_the_lookup_result_is_checked_with_it(engine):
    text = """
        stw [%r10-4], 1
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        call 1
        mov %r6, %r0                # a copy, made before the check
        mov %r0, 0
        jeq %r6, 0, out
        ldxdw %r0, [%r6]
    out:
        exit
    """
    m = array()
    m[1] = 42
    verified = bpfjit.verify(program(text, m), helpers={1})
    assert verified.proven == set(verified.accesses)
    assert bpfjit.compile(program(text, m), engine)() == 42


@pytest.mark.parametrize("text,words", [
    ("lddw %r1, map_by_fd(0)\nldxdw %r0, [%r1]\nexit", "map handle, not memory"),
    ("mov %r1, 0\nmov %r2, 0\ncall 1\nmov %r0, 0\nexit", "takes a map in r1"),
    ("lddw %r1, map_by_fd(0)\nmov %r2, 8\ncall 1\nmov %r0, 0\nexit", "pointer to the stack"),
    ("lddw %r1, map_by_fd(1)\nmov %r0, 0\nexit", "refers to map 1"),
    ("lddw %r1, map_val_by_fd(0, 0)\nldxdw %r0, [%r1+8]\nexit", "outside the 8-byte value"),
])
def test_map_pointers_are_typed(text, words):
    with pytest.raises(bpfjit.VerifierError, match=words):
        bpfjit.compile(program(text, array()))


def test_a_variable_offset_into_a_map_value_is_checked_at_run_time(engine):
    # value_size 8, 4 entries: an index from the buffer may reach 0..255, only some is valid
    text = """
        ldxb %r2, [%r1]
        lddw %r1, map_val_by_fd(0, 0)
        add %r1, %r2
        ldxb %r0, [%r1]
        exit
    """
    m = array(entries=4, value=8)
    m[3] = 0x1122334455667788
    fn = bpfjit.compile(program(text, m), engine)
    assert fn(bytes([24])) == 0x88             # byte 0 of entry 3: inside the map's values
    with pytest.raises(bpfjit.MemoryAccessError):
        fn(bytes([32]))                        # one past the last value


def test_helper_pointers_outside_every_region_fail_cleanly(engine):
    # the key pointer is the buffer + 100: the verifier accepts a buffer pointer, and the
    # helper checks the 4 bytes it reads against the buffer's real length
    text = """
        mov %r2, %r1
        add %r2, 100
        lddw %r1, map_by_fd(0)
        call 1
        jne %r0, 0, found
        exit
    found:
        mov %r0, 1
        exit
    """
    fn = bpfjit.compile(program(text, array()), engine)
    with pytest.raises(bpfjit.HelperError, match="outside the buffer"):
        fn(bytes(4))
    big = bytearray(200)
    big[100] = 2                               # key 2 < 4 entries: found
    assert fn(big) == 1


def test_trace_printk_formats_like_the_kernel(engine):
    fmt = b"x=%d u=%u %s!\0"
    words = [int.from_bytes(fmt[i:i + 8].ljust(8, b"\0"), "little")
             for i in range(0, len(fmt), 8)]
    stores = "\n".join(f"lddw %r1, {w:#x}\nstxdw [%r10-{32 - 8 * i}], %r1"
                       for i, w in enumerate(words))
    text = f"""
        {stores}
        stdw [%r10-40], 0x6b6f          # "ok\\0"
        mov %r1, %r10
        add %r1, -32
        mov %r2, {len(fmt)}
        mov %r3, -5
        mov %r4, 7
        mov %r5, %r10
        add %r5, -40
        call 6
        exit
    """
    prog = program(text)
    result = bpfjit.compile(prog, engine)()
    # %d reads the low 32 bits as signed: -5; %u 7; %s the string on the stack
    assert prog.trace == ["x=-5 u=7 ok!"]
    assert result == len("x=-5 u=7 ok!")


@pytest.mark.parametrize("word, expected", [
    (b"abcdefg\0", "[abcdefg]"),       # the NUL is the frame's last byte
    (b"abcdefgh", None),               # no NUL before the frame's end: the helper fails
])
def test_a_printk_string_at_the_top_of_the_stack(engine, word, expected):
    fmt = b"[%s]\0"
    fmt_word = int.from_bytes(fmt.ljust(8, bytes(1)), "little")
    text = f"""
        lddw %r1, {fmt_word:#x}
        stxdw [%r10-16], %r1
        lddw %r1, {int.from_bytes(word, "little"):#x}
        stxdw [%r10-8], %r1
        mov %r1, %r10
        add %r1, -16
        mov %r2, {len(fmt)}
        mov %r3, %r10
        add %r3, -8
        call 6
        exit
    """
    prog = program(text)
    fn = bpfjit.compile(prog, engine)
    if expected is None:
        with pytest.raises(bpfjit.HelperError):
            fn()
    else:
        assert fn() == len(expected) and prog.trace == [expected]


# ---- a property: random map operations from a program, against a model written here ------

OPS = st.lists(st.tuples(st.sampled_from(["lookup", "update", "delete"]),
                         st.integers(0, 5), st.integers(0, 2**64 - 1), st.integers(0, 3)),
               min_size=1, max_size=12)


def model(ops, kind, entries=4):
    """What the kernel does: r0 folds in each result (a lookup's value, or 0 for NULL;
    an update's or delete's return value)."""
    table = {i: 0 for i in range(entries)} if kind == "array" else {}
    acc = 0
    for op, key, value, flags in ops:
        if op == "lookup":
            result = table.get(key, 0) if kind == "hash" or key < entries else 0
        elif op == "update":
            if flags > 2:
                result = -errno.EINVAL
            elif kind == "array":
                result = (-errno.E2BIG if key >= entries else
                          -errno.EEXIST if flags == BPF_NOEXIST else 0)
            elif key in table:
                result = -errno.EEXIST if flags == BPF_NOEXIST else 0
            else:
                result = (-errno.ENOENT if flags == BPF_EXIST else
                          -errno.E2BIG if len(table) >= entries else 0)
            if result == 0:
                table[key] = value
        else:
            if kind == "array":
                result = -errno.EINVAL
            else:
                result = 0 if key in table else -errno.ENOENT
                table.pop(key, None)
        acc = (acc * 31 + (result % M64)) % M64
    return acc, table


def ops_program(ops):
    lines = ["mov %r6, 0"]
    for op, key, value, flags in ops:
        lines += [f"stw [%r10-4], {key}", f"lddw %r1, {value:#x}", "stxdw [%r10-16], %r1",
                  "lddw %r1, map_by_fd(0)", "mov %r2, %r10", "add %r2, -4"]
        if op == "lookup":
            lines += ["call 1", "jeq %r0, 0, +1", "ldxdw %r0, [%r0]"]
        elif op == "update":
            lines += ["mov %r3, %r10", "add %r3, -16", f"mov %r4, {flags}", "call 2"]
        else:
            lines += ["call 3"]
        lines += ["mul %r6, 31", "add %r6, %r0"]
    lines += ["mov %r0, %r6", "exit"]
    return "\n".join(lines)


@settings(max_examples=40, deadline=None)
@given(ops=OPS, kind=st.sampled_from(["array", "hash"]))
def test_random_map_operations_match_the_kernel_model(ops, kind):
    expected_r0, expected_table = model(ops, kind)
    text = ops_program(ops)
    for engine in bpfjit.engines():
        m = array(entries=4) if kind == "array" else hashmap(entries=4)
        assert bpfjit.compile(program(text, m), engine)() == expected_r0, engine
        assert m.ints() == expected_table, engine


# ---- array lookups done inside JIT code ---------------------------------------------------------

ARRAY_LOOKUP = """
    ldxw %r1, [%r1]
    stxw [%r10-4], %r1              # key = the buffer's first word
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, null
    ldxw %r0, [%r0+4]               # the value's second word
    exit
null:
    mov %r0, 99
    exit
"""


def test_the_verifier_marks_array_lookups_the_jits_may_inline():
    verified = bpfjit.verify(program(ARRAY_LOOKUP, array(entries=3, value=8)), helpers={1})
    assert verified.map_calls == {6: (0,)}       # the call (lddw takes 2 slots): map 0, key proven


@pytest.mark.parametrize("key,expected", [(0, 10), (2, 12), (3, 99), (2**32 - 1, 99)])
def test_inlined_array_lookups_match_the_helper(engine, key, expected):
    m = array(entries=3, value=8)
    for i in range(3):
        m[i] = (10 + i) << 32               # second word of value i is 10 + i
    fn = bpfjit.compile(program(ARRAY_LOOKUP, m), engine)
    assert fn(key.to_bytes(4, "little")) == expected


def test_a_replaced_lookup_helper_is_called_not_inlined(engine):
    calls = []

    def lookup(*args):
        calls.append(args[0])
        return 0

    fn = bpfjit.compile(program(ARRAY_LOOKUP, array()), engine, helpers={1: lookup})
    assert fn(bytes(4)) == 99 and len(calls) == 1


def test_helpers_cannot_read_stack_frames_no_call_reaches(engine):
    # regression: the key at r10-1000 lies in the 4 KiB stack allocation, but this program
    # makes no calls, so only its own 512-byte frame exists (and is zeroed); the bytes
    # below were never initialised, and in a JIT they are the host's native stack
    text = """
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -1000
        call 1
        exit
    """
    fn = bpfjit.compile(program(text, array()), engine)
    with pytest.raises(bpfjit.HelperError, match="outside the buffer"):
        fn()


def test_a_helper_may_run_the_same_program_again(engine):
    # regression: a nested run overwrote the run structure's buffer bounds, so the outer
    # run's next map helper checked its key pointer against the inner run's buffer
    text = """
        mov %r6, %r1
        ldxb %r2, [%r6]
        jeq %r2, 0, leaf
        call 9                          # runs this program again on another buffer
        mov %r2, %r6                    # then a map lookup keyed by the buffer's byte 1
        add %r2, 1
        lddw %r1, map_by_fd(0)
        call 1
        jeq %r0, 0, leaf
        mov %r0, 7
        exit
    leaf:
        mov %r0, 1
        exit
    """
    m = array(entries=4)
    inner_results = []
    fn = None

    def again(*args):
        inner_results.append(fn(bytes(8)))      # byte 0 is 0: the inner run is a leaf
        return 0

    fn = bpfjit.compile(program(text, m), engine, helpers={9: again})
    # key = bytes 1..4 of the outer buffer: 2 < 4 is found, 5 is not (the inner buffer's
    # key would be 0, found: reading it instead would give 7 for both)
    assert fn(bytes([1, 2, 0, 0, 0, 0, 0, 0])) == 7
    assert fn(bytes([1, 5, 0, 0, 0, 0, 0, 0])) == 1
    assert inner_results == [1, 1]


def test_a_trap_in_a_nested_run_caught_by_the_helper_does_not_stop_the_outer(engine):
    text = """
        jeq %r1, 0, inner
        call 9
        mov %r0, 5
        exit
    inner:
        ldxb %r0, [%r1]                 # no buffer: a memory trap
        exit
    """
    fn = None
    caught = []

    def again(*args):
        try:
            fn(None)
        except bpfjit.MemoryAccessError as exc:
            caught.append(exc.pc)
        return 0

    fn = bpfjit.compile(bpfjit.assemble(text), engine, helpers={9: again})
    assert fn(b"x") == 5 and caught == [4]          # the ldxb is pc 4
