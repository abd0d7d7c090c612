"""Loops over arrays of structs whose size is no power of two (12-byte port rules), as
clang emits them: an offset stepped by 12 and tested `!= 288` (rule_scan.c, and its v1
build through a copy zero-extended by shifts), or an `int` counter moved on before
its old value is zero-extended and compared with a register holding 23
(rule_count_v1.c).  The kernel proves these by walking every trip; bpfjit now proves
them too, every access in strict mode (the offset is known to be a multiple of 12,
`Value.mod`; a shifted copy keeps its relation to the counter it came from).  Before,
each left its loads checked at run time and strict mode refused it, as it refused
aws-network-policy-agent's four tc programs, which scan their rules so.

Results are worked out from the C by hand for each table."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.verifier import verify
from bpfjit.verifier.domain import const, join, scalar, widen
from bpfjit.verifier.intervals import alu_result

ELF = Path(__file__).parent / "elf"
OBJECTS = ["rule_scan.o", "rule_scan_v1.o", "rule_count_v1.o"]
ANY, END = 254, 255


def table(*rules: tuple[int, int, int]) -> bytes:
    """24 rules (protocol, start port, end port), the rest zero."""
    body = b"".join(struct.pack("<III", *r) for r in rules)
    return body + bytes(24 * 12 - len(body))


def packet(port: int, proto: int) -> bytes:
    return struct.pack("<II", port, proto) + bytes(56)


TCP_80, UDP_RANGE, ANY_443 = (6, 80, 0), (17, 1000, 2000), (ANY, 443, 0)
CASES = [
    # (rules, port, protocol, result)
    ((TCP_80, UDP_RANGE, ANY_443, (END, 0, 0)), 80, 6, 2),       # rule 0: its port
    ((TCP_80, UDP_RANGE, ANY_443, (END, 0, 0)), 1500, 17, 3),    # rule 1: in the range
    ((TCP_80, UDP_RANGE, ANY_443, (END, 0, 0)), 443, 17, 2),     # rule 2: any protocol
    ((TCP_80, UDP_RANGE, ANY_443, (END, 0, 0)), 22, 6, 1),       # the end marker
    (((7, 5000, 6000),) * 24, 1, 6, 1),                          # all 24 rules, no match
    (((7, 5000, 6000),) * 24, 5500, 7, 3),
    (((9, 1, 1),) * 23 + ((6, 0, 0),), 9999, 6, 2),              # only the last, at 276
]


@pytest.mark.parametrize("name", OBJECTS)
def test_every_access_is_proven(name):
    prog = bpfjit.load_elf(ELF / name)
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert verified.accesses and set(verified.proven) == set(verified.accesses)


@pytest.mark.parametrize("name", OBJECTS)
def test_the_kernel_loads_it(name):
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here")
    from bpfjit.backends.kerneljit import _with_map_fds
    prog = bpfjit.load_elf(ELF / name)
    fds = [bpfsys.map_create(m.spec.type, m.spec.key_size, m.spec.value_size,
                             m.spec.max_entries) for m in prog.maps.values()]
    try:
        bpfsys.close(bpfsys.prog_load(_with_map_fds(prog.to_bytes(), fds), "xdp"))
    finally:
        for fd in fds:
            bpfsys.close(fd)


@pytest.mark.parametrize("name", OBJECTS)
@pytest.mark.parametrize("rules, port, proto, expected", CASES)
def test_first_match(engine, name, rules, port, proto, expected):
    prog = bpfjit.load_elf(ELF / name)
    prog.maps["port_rules"][0] = table(*rules)
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(packet(port, proto))) == expected


def test_an_offset_stepped_by_12_is_a_multiple_of_12():
    # 0 and 12 joined: [0, 12], multiples of 12; widened towards 287 it stops at 276,
    # and excluding 288 from [12, 288] leaves [12, 276]
    head = join(const(0), const(12))
    assert (head.umin, head.umax) == (0, 12)
    wide = widen(head, join(head, const(24)), (287,))
    assert wide.umax == 276
    stepped = scalar(12, 287, mod=12)
    assert (stepped.umin, stepped.umax) == (12, 276)


def test_a_multiple_is_forgotten_where_it_may_not_hold():
    # a sum that may wrap, or a value that may be negative, keeps no multiple
    assert scalar(smin=-24, smax=24, mod=12).mod == 1
    assert join(const(12), const(7)).mod == 1          # gcd 1
    assert join(const(0), const(2**63 + 12)).mod == 1  # beyond 2^63: not counted


def test_a_negative_constant_added_counts_by_its_magnitude():
    # found by the kernel campaign: 95 or 105 is a multiple of 5, and so is 2^64 - 1
    # (3 * 5 * 17 * 257 * 641 * 65537 * 6700417), the unsigned value of -1; the sum
    # r0 - 1 was kept a multiple of 5, narrowed to [95, 100], and with `r0 == r1 + 1`
    # every path after it was infeasible: reachable code was called unreachable
    r0 = join(const(95), const(105))
    assert r0.mod == 5
    r1 = alu_result("add", 64, r0, const(-1))
    assert (r1.umin, r1.umax, r1.mod) == (94, 104, 1)
    assert alu_result("sub", 64, r0, const(-5)).mod == 5       # + 5: still multiples


DOWN_ONE = """
    mov %r0, 95
    jeq %r2, 0, picked
    mov %r0, 105
picked:
    mov %r1, %r0
    add %r1, -1
    jge %r0, %r1, taken
    mov %r0, 1
    exit
taken:
    add %r0, %r1
    exit
"""


def test_the_path_after_a_step_down_is_reachable():
    v = verify(bpfjit.assemble(DOWN_ONE), cache=False)
    assert v.unreachable == (6, 7)              # only the jump's fall-through


@pytest.mark.parametrize("length", [0, 1])
def test_the_step_down_runs_alike_on_every_engine(engine, length):
    r0 = 95 if length == 0 else 105
    fn = bpfjit.compile(bpfjit.assemble(DOWN_ONE), engine, cache=False)
    assert fn(bytes(length)) == r0 + (r0 - 1)
