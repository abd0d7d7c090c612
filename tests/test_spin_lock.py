"""bpf_spin_lock and bpf_spin_unlock (helpers 93, 94) on a struct bpf_spin_lock in map
values, as the kernel has them: where the BTF puts the lock, what the verifier refuses
(the kernel's rules: one lock at a time, no call while holding one, given back before
the exit, no load or store of its bytes), the lock word hidden from Python and never
written by an update, BPF_F_LOCK updates, a run that stops holding a lock, a word
nobody gives back, and two threads counting under one lock.  The fixture
tests/elf/spin_lock.c was also loaded into the running kernel (bpftool prog load, test
run of a 17-byte packet): flows[5] then held packets 1, bytes 17, last_len 17, as
computed here by hand."""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.kernel import KernelEnv
from bpfjit.btf import parse_btf
from bpfjit.maps import BPF_F_LOCK, MapSpec, MapTable, make_map, spinlock

FIXTURE = Path(__file__).parent / "elf" / "spin_lock.o"
LOCK_AT = 8                       # struct stats: u64 packets, then the lock


def stats(value: bytes) -> tuple[int, int, int, int]:
    """(packets, lock word, bytes, last_len) of a struct stats."""
    return struct.unpack("<QIIQ", value)


def word(m, slot: int) -> int:
    """The raw bytes of a value's lock, as the arena holds them (Python's reads show 0)."""
    at = slot * m.value_size + m.spec.spin_lock
    return int.from_bytes(m.arena[at:at + 4], "little")


def set_word(m, slot: int, value: int) -> None:
    at = slot * m.value_size + m.spec.spin_lock
    m.arena[at:at + 4] = value.to_bytes(4, "little")


def taken(m, slot: int) -> bool:
    """Whether some thread holds the lock of value `slot`."""
    return slot in m.locks


# ---- the object file ------------------------------------------------------------------------

def test_the_btf_places_the_lock_of_each_map():
    prog = bpfjit.load_elf(FIXTURE)
    assert prog.maps["flows"].spec.spin_lock == LOCK_AT
    assert prog.maps["totals"].spec.spin_lock == LOCK_AT


def test_the_cli_lists_where_each_lock_is(capsys):
    from bpfjit.cli import main
    assert main(["maps", str(FIXTURE)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "flows type=hash key=4 value=24 max_entries=16 spin_lock=8",
        "totals type=array key=4 value=24 max_entries=1 spin_lock=8"]


def test_flows_are_counted_under_their_locks(engine):
    prog = bpfjit.load_elf(FIXTURE)
    fn = bpfjit.compile(prog, engine, cache=False)
    packets = [bytes([5]) + bytes(16), bytes([5, 1, 2]), bytes([7])]
    # totals after each packet: 1, 2, 3 -> odd passes (2), even drops (1)
    assert [fn(bpfjit.XdpContext(p)) for p in packets] == [2, 1, 2]
    flows = prog.maps["flows"]
    assert stats(flows[5]) == (2, 0, 17 + 3, 3)
    assert stats(flows[7]) == (1, 0, 1, 1)
    assert stats(prog.maps["totals"][0]) == (3, 0, 21, 0)
    assert not flows.locks and not prog.maps["totals"].locks        # given back


def test_the_kernel_computes_the_same_for_one_packet(engine):
    # the kernel's test run of this packet left flows[5] = (1, 0, 17, 17)
    prog = bpfjit.load_elf(FIXTURE)
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bpfjit.XdpContext(bytes([5]) + b"abcdefghijklmnop")) == 2
    assert stats(prog.maps["flows"][5]) == (1, 0, 17, 17)


def test_the_btf_written_for_the_kernel_engine_reads_back():
    # the blob the kernel engine gives the kernel for a twin map: value type 5 holds the
    # lock at the byte asked for (and the kernel accepted it: the tests below ran there)
    btf = parse_btf(bpfsys.value_fields_btf(6, 40, spin_lock=24))
    assert btf.struct_members(5, "bpf_spin_lock") == [24]
    assert (btf.size(4), btf.size(5)) == (6, 40)
    # with a timer too (tests/test_timers.py ran the kernel on such twins)
    btf = parse_btf(bpfsys.value_fields_btf(4, 48, spin_lock=40, timer=8))
    assert btf.struct_members(5, "bpf_spin_lock") == [40]
    assert btf.struct_members(5, "bpf_timer") == [8]
    assert (btf.size(1), btf.size(5), btf.size(7)) == (4, 48, 16)


# ---- maps -------------------------------------------------------------------------------------

def locked_array(entries: int = 2) -> bpfjit.maps.Map:
    return make_map(MapSpec("counters", 2, 4, 16, entries, spin_lock=4))


def test_python_sees_the_lock_as_zero_and_never_writes_it():
    m = locked_array()
    set_word(m, 1, 0x01020304)                 # whatever the lock's bytes hold
    m[1] = bytes(range(1, 17))                 # the value's bytes 4-7 are 5..8
    assert m[1] == bytes(range(1, 5)) + bytes(4) + bytes(range(9, 17))
    assert word(m, 1) == 0x01020304            # not written


def test_an_update_with_bpf_f_lock_copies_holding_the_lock():
    m = locked_array()
    m.update(0, bytes(range(16)), BPF_F_LOCK)
    assert m[0] == bytes(range(4)) + bytes(4) + bytes(range(8, 16))
    assert not taken(m, 0)                     # taken for the copy, given back
    m.update(1, bytes(16), BPF_F_LOCK | 2)     # with BPF_EXIST
    with pytest.raises(bpfjit.MapError) as raised:
        make_map(MapSpec("plain", 2, 4, 16, 1)).update(0, bytes(16), BPF_F_LOCK)
    assert raised.value.errno == 22            # EINVAL: no lock in its values


@pytest.mark.parametrize("kind, offset", [(9, 0), (5, 0), (6, 0), (2, 2), (2, 14)])
def test_a_lock_only_fits_hash_and_array_values(kind, offset):
    with pytest.raises(bpfjit.BpfError, match="bpf_spin_lock"):
        make_map(MapSpec("m", kind, 4, 16, 1, spin_lock=offset))


# ---- programs in assembly ---------------------------------------------------------------------

LOOKUP = """
        stw [%r10-4], {key}
        lddw %r1, map_by_fd({fd})
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, out
"""


def program(body: str, maps=None, prefix: str = "", suffix: str = "", **kind
            ) -> bpfjit.Program:
    """`prefix`, then `body` after a lookup of key 0 in map 0 (r6 = its value, r7 = r6 + 4:
    the lock of `counters`); r0 = 0 at `out`, then `suffix` (subprograms)."""
    maps = maps or [locked_array()]
    text = prefix + LOOKUP.format(key=0, fd=0) + """
        mov %r6, %r0
        mov %r7, %r0
        add %r7, 4
""" + body + """
    out:
        mov %r0, 0
        exit
""" + suffix
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable(maps)), **kind)


# value 0's second word + 1, under its lock; r0 = the new count
COUNT_UNDER_LOCK = """
        mov %r1, %r7
        call 93
        ldxdw %r2, [%r6+8]
        add %r2, 1
        stxdw [%r6+8], %r2
        mov %r1, %r7
        call 94
        ldxdw %r0, [%r6+8]
        exit
"""


def test_a_counter_under_the_lock_runs_on_every_engine(engine):
    prog = program(COUNT_UNDER_LOCK)
    fn = bpfjit.compile(prog, engine, cache=False)
    assert [fn(bytes(8)) for _ in range(3)] == [1, 2, 3]


def test_a_lock_given_back_on_both_paths_is_accepted():
    bpfjit.verify(program("""
        mov %r1, %r7
        call 93
        ldxdw %r2, [%r6+8]
        jeq %r2, 0, zero
        mov %r1, %r7
        call 94
        ja out
    zero:
        stdw [%r6+8], 1
        mov %r1, %r7
        call 94
"""), cache=False)


REFUSED = {
    "held at the exit": ("""
        mov %r1, %r7
        call 93
        mov %r0, 0
        exit
""", "bpf_spin_unlock is missing"),
    "taken twice": ("""
        mov %r1, %r7
        call 93
        mov %r1, %r7
        call 93
""", "not allowed while holding"),
    "a helper call while held": ("""
        mov %r1, %r7
        call 93
        call 3
        mov %r1, %r7
        call 94
""", "function calls are not allowed"),
    "unlock without lock": ("""
        mov %r1, %r7
        call 94
""", "without taking a lock"),
    "a load of the lock word": ("""
        ldxw %r2, [%r6+4]
""", "may touch the struct bpf_spin_lock"),
    "a store over the lock word": ("""
        stdw [%r6+0], 0
""", "may touch the struct bpf_spin_lock"),
    "a load at an offset that may reach it": ("""
        ldxdw %r2, [%r6+8]
        and %r2, 8
        add %r2, %r6
        ldxw %r3, [%r2+0]
""", "may touch the struct bpf_spin_lock"),
    "the lock taken at the wrong offset": ("""
        mov %r1, %r6
        call 93
""", "struct bpf_spin_lock is at byte 4"),
    "a lock taken at a variable offset": ("""
        ldxdw %r2, [%r6+8]
        and %r2, 4
        mov %r1, %r6
        add %r1, %r2
        call 93
""", "no constant offset"),
    "a stack pointer as the lock": ("""
        mov %r1, %r10
        add %r1, -8
        call 93
""", "takes a pointer to the struct bpf_spin_lock"),
    "a helper reading the lock's bytes": ("""
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r6
        mov %r4, 0
        call 2
""", "may touch the struct bpf_spin_lock"),
    "paths that meet holding and not holding it": ("""
        ldxdw %r2, [%r6+8]
        jeq %r2, 0, skip
        mov %r1, %r7
        call 93
    skip:
        mov %r1, %r7
        call 94
""", "paths that hold different spin locks"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_kernels_rules_are_enforced(case):
    body, message = REFUSED[case]
    with pytest.raises(bpfjit.VerifierError, match=message):
        bpfjit.verify(program(body), cache=False)


# loads of the lock's bytes and helpers reading them are refused by the kernel with other
# words, the rest as here
@pytest.mark.skipif(bpfsys.unavailable() is not None, reason="no kernel engine here")
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_kernel_refuses_them_too(case):
    from types import SimpleNamespace

    from bpfjit.backends.kerneljit import compile_kernel
    prog = program(REFUSED[case][0])
    with pytest.raises(bpfjit.VerifierError, match="the kernel's verifier refused"):
        compile_kernel(SimpleNamespace(source=prog, program=prog))


def test_a_local_call_while_held_is_refused():
    with pytest.raises(bpfjit.VerifierError, match="function calls are not allowed"):
        bpfjit.verify(program("""
        mov %r1, %r7
        call 93
        call local fn
        mov %r1, %r7
        call 94
""", suffix="""
    fn:
        mov %r0, 0
        exit
"""), cache=False)


def test_a_map_without_a_lock_is_refused():
    plain = make_map(MapSpec("plain", 2, 4, 16, 1))
    with pytest.raises(bpfjit.VerifierError, match="has no struct bpf_spin_lock"):
        bpfjit.verify(program("""
        mov %r1, %r7
        call 93
        mov %r1, %r7
        call 94
""", maps=[plain]), cache=False)


# after a second lookup: take value 0's lock (r7), give back the other value's
UNLOCK_THE_OTHER = """
        add %r0, 4
        mov %r8, %r0
        mov %r1, %r7
        call 93
        mov %r1, %r8
        call 94
"""


def test_unlocking_another_maps_lock_is_refused():
    maps = [locked_array(), locked_array()]
    with pytest.raises(bpfjit.VerifierError, match="different lock"):
        bpfjit.verify(program(LOOKUP.format(key=0, fd=1) + UNLOCK_THE_OTHER, maps=maps),
                      cache=False)


def test_legacy_packet_loads_are_refused_while_held():
    with pytest.raises(bpfjit.VerifierError, match="legacy packet loads are not allowed"):
        bpfjit.verify(program("""
        mov %r1, %r7
        mov %r6, %r9
        call 93
        ldabsb 0
        mov %r1, %r7
        call 94
""", prefix="mov %r9, %r1\n", context="skb", prog_type="socket"), cache=False)


# ---- runs that do not give the lock back ------------------------------------------------------

def test_a_run_that_traps_holding_a_lock_gives_it_back_to_the_next(engine):
    # the buffer's first byte is an offset into it that nothing checks: 200 traps
    prog = program("""
        mov %r1, %r7
        call 93
        ldxdw %r2, [%r6+8]
        add %r2, 1
        stxdw [%r6+8], %r2
        ldxb %r3, [%r9+0]
        add %r3, %r9
        ldxb %r8, [%r3+0]
        mov %r1, %r7
        call 94
        mov %r0, %r8
        exit
""", prefix="mov %r9, %r1\n")
    fn = bpfjit.compile(prog, engine, cache=False)
    with pytest.raises(bpfjit.MemoryAccessError):
        fn(bytes([200]) + bytes(7))
    m = prog.env.maps.list[0]
    assert taken(m, 0)                                        # left taken
    assert fn(bytes([3, 0, 0, 42]) + bytes(4)) == 42          # taken again, not waited for
    assert not taken(m, 0)
    assert struct.unpack_from("<Q", m[0], 8)[0] == 2


def test_a_lock_nobody_gives_back_fails_the_run_after_waiting(engine, monkeypatch):
    if engine == "kernel":
        pytest.skip("in the kernel no word can be left taken: user space never sees it")
    monkeypatch.setattr(spinlock, "WAIT_SECONDS", 0.05)
    prog = program("""
        mov %r1, %r7
        call 93
        mov %r1, %r7
        call 94
""")
    fn = bpfjit.compile(prog, engine, cache=False)
    m = prog.env.maps.list[0]
    m.locks[0] = object()                   # taken by no run of this thread
    with pytest.raises(bpfjit.HelperError, match="stayed taken"):
        fn(bytes(8))
    del m.locks[0]
    assert fn(bytes(8)) == 0


def test_unlocking_a_lock_the_run_does_not_hold_fails_the_run(engine):
    # values 0 and 1 of one map: the verifier cannot tell their locks apart (the kernel
    # can, by the lookup each came from); the helper checks what the run holds
    prog = program(LOOKUP.format(key=1, fd=0) + UNLOCK_THE_OTHER)
    fn = bpfjit.compile(prog, engine, cache=False)
    with pytest.raises(bpfjit.HelperError, match="which this run does not hold"):
        fn(bytes(8))
    m = prog.env.maps.list[0]
    assert (taken(m, 0), taken(m, 1)) == (True, False)
    spinlock.release(m, 0)


def test_two_threads_count_under_one_lock(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine copies the maps in and out around each run, "
                    "which two threads at once would interleave")
    prog = program(COUNT_UNDER_LOCK)
    fn = bpfjit.compile(prog, engine, cache=False)
    runs = 300

    def count() -> None:
        buf = bytes(8)
        for _ in range(runs):
            fn(buf)
    threads = [threading.Thread(target=count) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m = prog.env.maps.list[0]
    assert struct.unpack_from("<Q", m[0], 8)[0] == 2 * runs
    assert not m.locks
