"""Every scalar field of `struct __sk_buff` a tc program reads is the context's
attribute, at the kernel's offset, and every field it writes comes back as one —
on every call of the same context, after fields are set between calls, and for
values outside a field's width (the low bits, as a u32 field holds them)."""

import pytest

import bpfjit

from skb_programs import asm_program

M64 = (1 << 64) - 1

# (offset, size) of the fields in struct __sk_buff (include/uapi/linux/bpf.h)
READ = [("len", 0, 4), ("pkt_type", 4, 4), ("mark", 8, 4), ("queue_mapping", 12, 4),
        ("protocol", 16, 4), ("vlan_present", 20, 4), ("vlan_tci", 24, 4),
        ("vlan_proto", 28, 4), ("priority", 32, 4), ("ingress_ifindex", 36, 4),
        ("ifindex", 40, 4), ("tc_index", 44, 4), ("cb0", 48, 4), ("cb1", 52, 4),
        ("cb2", 56, 4), ("cb3", 60, 4), ("cb4", 64, 4), ("hash", 68, 4),
        ("tc_classid", 72, 4), ("tstamp", 152, 8), ("wire_len", 160, 4),
        ("gso_segs", 164, 4)]
# what the program stores: (offset, size, value)
WRITES = [(8, 4, 0xA1), (32, 4, 0xA2), (44, 4, 0xA3), (72, 4, 0xA4), (12, 4, 0xA5),
          (48, 4, 0xB0), (52, 4, 0xB1), (56, 4, 0xB2), (60, 4, 0xB3), (64, 4, 0xB4),
          (152, 8, 0x12_3456_7890)]
_LOAD = {4: "ldxw", 8: "ldxdw"}
_STORE = {4: "stxw", 8: "stxdw"}


def _source() -> str:
    """r0 = fold(r0 * 31 + field) over READ, then the stores of WRITES."""
    lines = ["mov r0, 0"]
    for _, offset, size in READ:
        lines += [f"{_LOAD[size]} r2, [r1+{offset}]", "mul r0, 31", "add r0, r2"]
    for offset, size, value in WRITES:
        lines += [f"lddw r3, {value}", f"{_STORE[size]} [r1+{offset}], r3"]
    return "\n".join(lines + ["exit"])


def _fold(values: dict[str, int]) -> int:
    r0 = 0
    for name, _, _ in READ:
        r0 = (r0 * 31 + values[name]) & M64
    return r0


@pytest.fixture
def fn(engine):
    if engine == "kernel":
        pytest.skip("the kernel's test run takes only some __sk_buff fields from its caller")
    prog = asm_program(_source(), context="skb", prog_type="sched_cls")
    return bpfjit.compile(prog, engine, cache=False)


def _given(n: int) -> dict[str, int]:
    return {"len": n, "pkt_type": 3, "mark": 0x11223344, "queue_mapping": 5,
            "protocol": 0x0008, "vlan_present": 1, "vlan_tci": 0x123, "vlan_proto": 0x0081,
            "priority": 7, "ingress_ifindex": 9, "ifindex": 10, "tc_index": 11,
            "cb0": 100, "cb1": 101, "cb2": 102, "cb3": 103, "cb4": 104,
            "hash": 0xDEADBEEF, "tc_classid": 0x10002, "tstamp": 0x1122334455667788,
            "wire_len": n, "gso_segs": 1}


def _context(n: int) -> bpfjit.SkbContext:
    return bpfjit.SkbContext(bytes(n), protocol=0x0008, pkt_type=3, mark=0x11223344,
                             queue_mapping=5, vlan_tci=0x123, vlan_proto=0x0081, priority=7,
                             ingress_ifindex=9, ifindex=10, tc_index=11,
                             cb=(100, 101, 102, 103, 104), hash=0xDEADBEEF,
                             tc_classid=0x10002, tstamp=0x1122334455667788)


WRITTEN = {"mark": 0xA1, "priority": 0xA2, "tc_index": 0xA3, "tc_classid": 0xA4,
           "queue_mapping": 0xA5, "cb": [0xB0, 0xB1, 0xB2, 0xB3, 0xB4],
           "tstamp": 0x12_3456_7890}


def _after_writes(values: dict[str, int]) -> dict[str, int]:
    values = dict(values)
    values.update({k: v for k, v in WRITTEN.items() if k != "cb"})
    values.update({f"cb{i}": v for i, v in enumerate(WRITTEN["cb"])})
    return values


def test_every_field_is_read_and_the_writes_come_back(fn):
    ctx = _context(60)
    assert fn(ctx) == _fold(_given(60))
    assert {name: getattr(ctx, name) for name in WRITTEN} == WRITTEN
    # called again, the program reads what it wrote
    assert fn(ctx) == _fold(_after_writes(_given(60)))


def test_fields_set_between_calls_are_read(fn):
    ctx = _context(60)
    fn(ctx)
    ctx.mark, ctx.hash, ctx.cb = 0x55, 0x66, [1, 2, 3, 4, 5]
    ctx.vlan_tci = None                 # no tag: vlan_present and vlan_tci are 0
    values = _after_writes(_given(60))
    values.update({"mark": 0x55, "hash": 0x66, "cb0": 1, "cb1": 2, "cb2": 3, "cb3": 4,
                   "cb4": 5, "vlan_present": 0, "vlan_tci": 0})
    assert fn(ctx) == _fold(values)


def test_values_wider_than_a_field_keep_their_low_bits(fn):
    ctx = _context(60)
    ctx.mark, ctx.priority, ctx.tstamp = -1, (1 << 32) + 6, -2
    values = _given(60)
    values.update({"mark": 0xFFFFFFFF, "priority": 6, "tstamp": M64 - 1})
    assert fn(ctx) == _fold(values)


def test_a_short_cb_list_leaves_the_rest_zero(fn):
    ctx = _context(60)
    ctx.cb = [7, 8]
    values = _given(60)
    values.update({"cb0": 7, "cb1": 8, "cb2": 0, "cb3": 0, "cb4": 0})
    assert fn(ctx) == _fold(values)


@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_packet_bytes_get_the_defaults_on_every_call(fn, kind):
    # a context made for bytes: no tag, protocol from bytes 12-13 (0 for a frame too
    # short to have them), the default fields — not what the call before wrote
    for n in (90, 44, 44, 60, 14, 13, 0, 20):
        packet = kind(bytes(12) + b"\x86\xdd" + bytes(n - 14)) if n >= 14 else kind(n)
        values = {name: 0 for name, _, _ in READ}
        values.update({"len": n, "wire_len": n, "protocol": 0xDD86 if n >= 14 else 0,
                       "ingress_ifindex": 1, "ifindex": 1, "gso_segs": 1})
        assert fn(packet) == _fold(values), n


def test_a_program_that_writes_no_field_reads_none_back(engine, monkeypatch):
    # the JITs read the writable fields back only for a program that stores to one
    # (VerifiedProgram.writes_context); this one reads mark and cb[4]
    if engine not in ("llvm", "peachpy"):
        pytest.skip("the JITs' calls")
    prog = asm_program("ldxw r0, [r1+8]\nldxw r2, [r1+64]\nlsh r0, 8\nadd r0, r2\nexit",
                       context="skb", prog_type="sched_cls")
    fn = bpfjit.compile(prog, engine, cache=False)

    def refuse(self):
        raise AssertionError("fields read back")
    monkeypatch.setattr(bpfjit.SkbContext, "read_back", refuse)
    ctx = _context(60)
    assert fn(ctx) == 0x11223344 << 8 | 104
    assert fn(bytes(60)) == 0
