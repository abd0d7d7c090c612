"""bpf_redirect_map (51) on a devmap, cpumap or xskmap, answered in the JIT code.

Thirteen of the public XDP programs tried call it (xdp-tutorial's redirect_map,
katran's, the cpumap load balancers); through Python each call cost a cffi callback
(~2 µs).  Where the verifier knows the one map r1 is and it is one of those three
kinds, both JITs answer in line, as bpfjit.helpers.redirect does: flags outside
BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS and the two action bits: XDP_ABORTED; an
entry present at the key's low 32 bits: XDP_REDIRECT, with the entry's first 4 bytes
as the target recorded in the context block, which the call turns into `ctx.redirect`
(the map's name, the key, the flags); else the action in the flags' low two bits.
Whether an entry is present is kept in native memory after the map's values.
Expected values are worked out from the helper's definition by hand.
"""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.helpers import Redirect
from bpfjit.maps import MapSpec, make_map
from bpfjit.maps.redirect import CpuMap, DevMap, XskMap
from skb_programs import asm_program, contexts_noted

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT = 0, 1, 2, 4

# r0 = bpf_redirect_map(map 0, key: bytes 0-3 of the packet, flags: bytes 8-15)
REDIRECT_MAP = """
    ldxw %r2, [%r1+4]
    ldxw %r6, [%r1+0]
    mov %r0, 1
    mov %r3, %r6
    add %r3, 16
    jgt %r3, %r2, out
    ldxw %r2, [%r6+0]
    ldxdw %r3, [%r6+8]
    lddw %r1, map_by_fd(0)
    call 51
out:
    exit
"""

# the same through map 1 where byte 4 is 1 (r1 is one map or the other: Python's)
EITHER_MAP = REDIRECT_MAP.replace("""    lddw %r1, map_by_fd(0)
""", """    ldxb %r4, [%r6+4]
    lddw %r1, map_by_fd(0)
    jne %r4, 1, call
    lddw %r1, map_by_fd(1)
call:
""")

KINDS = {"devmap": (14, DevMap), "cpumap": (16, CpuMap), "xskmap": (17, XskMap)}


def _maps(kind: str, value_size: int = 4):
    type_id, _ = KINDS[kind]
    return (make_map(MapSpec("ports", type_id, 4, value_size, 8)),
            make_map(MapSpec("spare", type_id, 4, value_size, 8)))


def _compile(engine, kind="devmap", value_size=4, source=REDIRECT_MAP, **options):
    if engine == "kernel":
        pytest.skip("the kernel engine runs XDP programs calling no helper but the map ones")
    maps = _maps(kind, value_size)
    return maps, bpfjit.compile(asm_program(source, maps=maps), engine, cache=False,
                                **options)


def _frame(key: int, flags: int = 0, other: int = 0) -> bpfjit.XdpContext:
    return bpfjit.XdpContext(key.to_bytes(4, "little") + bytes([other]) + bytes(3)
                             + flags.to_bytes(8, "little") + bytes(48))


def _python_forbidden(engine, kind, monkeypatch):
    if engine in ("llvm", "peachpy"):
        def refuse(self, key):
            raise AssertionError("the entry was looked up in Python")
        monkeypatch.setattr(KINDS[kind][1], "lookup_slot", refuse)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_present_entry_redirects_to_its_target(engine, kind, monkeypatch):
    (ports, _), fn = _compile(engine, kind)
    ports[3] = 7
    ports[5] = 0x01020304
    _python_forbidden(engine, kind, monkeypatch)
    for key, target in ((3, 7), (5, 0x01020304)):
        ctx = _frame(key)
        assert fn(ctx) == XDP_REDIRECT
        assert ctx.redirect == Redirect(target, "ports", key, 0)


@pytest.mark.parametrize("flags, expected", [(0, XDP_ABORTED), (1, XDP_DROP), (2, XDP_PASS),
                                             (3, 3), (0x8 | 2, XDP_PASS),
                                             (0x10 | 1, XDP_DROP)])
@pytest.mark.parametrize("key", [2, 8, 0xFFFFFFFF])
def test_an_absent_entry_answers_the_flags_action(engine, key, flags, expected, monkeypatch):
    # key 2 is not set, 8 and 2^32-1 are past the map's 8 entries
    (ports, _), fn = _compile(engine)
    ports[3] = 7
    _python_forbidden(engine, "devmap", monkeypatch)
    ctx = _frame(key, flags)
    assert fn(ctx) == expected
    assert ctx.redirect is None


@pytest.mark.parametrize("flags", [0x4, 0x20, 0x80, 1 << 32, 1 << 63])
def test_an_unknown_flag_aborts(engine, flags, monkeypatch):
    (ports, _), fn = _compile(engine)
    ports[3] = 7
    _python_forbidden(engine, "devmap", monkeypatch)
    ctx = _frame(3, flags)
    assert fn(ctx) == XDP_ABORTED
    assert ctx.redirect is None


def test_the_flags_a_redirect_keeps(engine):
    # BPF_F_BROADCAST and BPF_F_EXCLUDE_INGRESS are passed on as the program gave them
    (ports, _), fn = _compile(engine)
    ports[1] = 11
    ctx = _frame(1, 0x18 | 2)
    assert fn(ctx) == XDP_REDIRECT
    assert ctx.redirect == Redirect(11, "ports", 1, 0x1A)


def test_an_eight_byte_value_targets_its_first_four_bytes(engine):
    # struct bpf_devmap_val: the ifindex, then a program's fd
    (ports, _), fn = _compile(engine, value_size=8)
    ports[4] = (9).to_bytes(4, "little") + (77).to_bytes(4, "little")
    ctx = _frame(4)
    assert fn(ctx) == XDP_REDIRECT and ctx.redirect == Redirect(9, "ports", 4, 0)


def test_entries_set_and_removed_after_compiling_are_seen(engine):
    (ports, _), fn = _compile(engine)
    assert fn(_frame(6, 1)) == XDP_DROP
    ports[6] = 12
    ctx = _frame(6, 1)
    assert fn(ctx) == XDP_REDIRECT and ctx.redirect == Redirect(12, "ports", 6, 1)
    del ports[6]
    ctx = _frame(6, 1)
    assert fn(ctx) == XDP_DROP and ctx.redirect is None
    assert len(ports) == 0 and list(ports) == []


def test_either_of_two_maps(engine):
    # r1 is one map or the other: each is looked up for its own entry
    (ports, spare), fn = _compile(engine, source=EITHER_MAP)
    ports[2], spare[2] = 21, 22
    first, second = _frame(2, other=0), _frame(2, other=1)
    assert fn(first) == XDP_REDIRECT and first.redirect == Redirect(21, "ports", 2, 0)
    assert fn(second) == XDP_REDIRECT and second.redirect == Redirect(22, "spare", 2, 0)


def test_a_batch_leaves_the_last_runs_redirect(engine):
    (ports, _), fn = _compile(engine)
    if not hasattr(fn, "run_batch"):
        pytest.skip("the interpreter runs one at a time")
    ports[1] = 5
    ctx = _frame(1)
    r0, _ = fn.run_batch(ctx, 50)
    assert r0 == XDP_REDIRECT and ctx.redirect == Redirect(5, "ports", 1, 0)


def test_a_redirect_map_helper_given_by_the_caller_is_called(engine):
    seen = []

    def mine(r1, r2, r3, r4, r5):
        seen.append((r2, r3))
        return XDP_PASS
    (ports, _), fn = _compile(engine, helpers={51: mine})
    ports[3] = 7
    ctx = _frame(3, 1)
    assert fn(ctx) == XDP_PASS and ctx.redirect is None
    assert seen == [(3, 1)]


# an array lookup (in line), then bpf_redirect_map to the entry the value names: every
# call answered by the JIT code itself
LOOKUP_THEN_REDIRECT = """
    stw [%r10-4], 0
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(2)
    call 1
    mov %r2, 0
    jeq %r0, 0, none
    ldxw %r2, [%r0+0]
none:
    lddw %r1, map_by_fd(0)
    mov %r3, 1
    call 51
    exit
"""


@pytest.mark.parametrize("clock", [False, True], ids=["native", "with a python helper"])
def test_a_run_whose_calls_the_jit_answers_leaves_python_alone(engine, clock, monkeypatch):
    # the per-run note of the context that Python helpers read (KernelEnv.begin, ~190
    # ns a call) is left out of JIT runs, whether or not a call can reach Python
    if engine == "kernel":
        pytest.skip("the kernel engine runs XDP programs calling no helper but the map ones")
    ports, spare = _maps("devmap")
    which = make_map(MapSpec("which", 2, 4, 4, 1))
    source = LOOKUP_THEN_REDIRECT
    if clock:           # bpf_get_prandom_u32 (7): Python's
        source = source.replace("    exit\n", "    mov %r6, %r0\n    call 7\n    mov %r0, %r6\n"
                                "    exit\n", 1)
    prog = asm_program(source, maps=[ports, spare, which])
    fn = bpfjit.compile(prog, engine, cache=False)
    ports[5] = 17
    which[0] = 5
    began = contexts_noted(monkeypatch)
    ctx = bpfjit.XdpContext(bytes(64))
    assert fn(ctx) == XDP_REDIRECT and ctx.redirect == Redirect(17, "ports", 5, 1)
    which[0] = 6                                    # entry 6 is not set: XDP_DROP
    ctx = bpfjit.XdpContext(bytes(64))
    assert fn(ctx) == XDP_DROP and ctx.redirect is None
    if hasattr(fn, "run_batch"):
        assert fn.run_batch(ctx, 10)[0] == XDP_DROP
    # (JIT runs never note it: a helper finds its context by the run's packet,
    # tests/test_helper_context.py)
    assert (began == []) == (engine in ("llvm", "peachpy"))
