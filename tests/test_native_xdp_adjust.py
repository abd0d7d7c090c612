"""bpf_xdp_adjust_head (44), bpf_xdp_adjust_meta (54) and bpf_xdp_adjust_tail (65),
answered by native routines in the JIT engines.

Load balancers encapsulate every packet they forward with adjust_head (katran,
github/glb-director, mizar); through Python each call cost a cffi callback and the
context's bookkeeping, ~5 µs of glb-director's ~6 µs call.  The results here are the
kernel's rules worked out by hand for a 60-byte packet in a fresh frame: 216 bytes
of headroom (256 less the 40-byte xdp_frame), 3,460 of tailroom (a 3,776-byte frame
less the headroom and the packet), at least an Ethernet header (14 bytes) left,
metadata a multiple of 4 bytes (-EACCES) within the headroom (-EINVAL).
"""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.context.xdp import XdpContext
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, make_map

from skb_programs import asm_program

HEAD, META, TAIL, BUFF_LEN, TAIL_CALL = 44, 54, 65, 188, 12
OK, EINVAL, EACCES = 0x00, 0xEA, 0xF3            # (the results' low bytes)


def _source(ops) -> str:
    """Call each (helper, delta) of `ops` on the context; r0 = the results' low bytes
    (the first the highest) << 24 | (data_end - data) << 8 | (data - data_meta)."""
    lines = ["mov r6, r1", "mov r7, 0"]
    for hid, delta in ops:
        lines += ["mov r1, r6", f"mov r2, {delta}", f"call {hid}", "and r0, 0xff",
                  "lsh r7, 8", "or r7, r0"]
    lines += ["ldxw r2, [r6+0]", "ldxw r3, [r6+4]", "ldxw r4, [r6+8]",
              "mov r8, r3", "sub r8, r2", "mov r9, r2", "sub r9, r4",
              "mov r0, r7", "lsh r0, 24", "lsh r8, 8", "or r0, r8", "or r0, r9", "exit"]
    return "\n".join(lines)


def _expected(codes, length, metalen) -> int:
    folded = 0
    for code in codes:
        folded = folded << 8 | code
    return folded << 24 | length << 8 | metalen


@pytest.fixture
def forbid_python(python_helper_engine, monkeypatch):
    """On the JIT engines, the context's own (Python) resizing must not run."""
    engine = python_helper_engine
    if engine in ("llvm", "peachpy"):
        for name in ("adjust_head", "adjust_meta", "adjust_tail"):
            def refuse(self, delta, name=name):
                raise AssertionError(f"{name} ran in Python")
            monkeypatch.setattr(XdpContext, name, refuse)
    return engine


CASES = [
    # grow at the front, metadata, grow at the end
    ([(HEAD, -14), (META, -8), (TAIL, 10)], [OK, OK, OK], 84, 8),
    # metadata first: the head may grow into the headroom down to the metadata only
    ([(META, -8), (HEAD, -209)], [OK, EINVAL], 60, 8),
    ([(META, -8), (HEAD, -208)], [OK, OK], 268, 8),
    ([(HEAD, -217)], [EINVAL], 60, 0),
    ([(HEAD, -216), (META, -4)], [OK, EINVAL], 276, 0),
    # shrink the front; metadata not a multiple of 4; the end below an Ethernet header
    ([(HEAD, 20), (META, -6), (TAIL, -100)], [OK, EACCES, EINVAL], 40, 0),
    ([(HEAD, 47)], [EINVAL], 60, 0),
    ([(HEAD, 46)], [OK], 14, 0),
    ([(TAIL, 3460), (TAIL, 1)], [OK, EINVAL], 3520, 0),
    ([(TAIL, -46), (TAIL, -1)], [OK, EINVAL], 14, 0),
    ([(META, -256)], [EINVAL], 60, 0),
    ([(META, -4), (META, 4)], [OK, OK], 60, 0),
    ([(META, 4)], [EINVAL], 60, 0),
    # the headroom a shrunk front gives back may be grown into again
    ([(HEAD, 10), (HEAD, -226)], [OK, OK], 276, 0),
]


@pytest.mark.parametrize("ops, codes, length, metalen", CASES)
def test_resizing_by_the_kernels_rules(forbid_python, ops, codes, length, metalen):
    fn = bpfjit.compile(asm_program(_source(ops)), forbid_python, cache=False)
    ctx = bpfjit.XdpContext(bytes(range(60)))
    assert fn(ctx) == _expected(codes, length, metalen)
    assert len(ctx) == length and len(ctx.metadata) == metalen


def test_the_bytes_moved_and_opened(forbid_python):
    grow = bpfjit.compile(asm_program(_source(CASES[0][0])), forbid_python, cache=False)
    ctx = bpfjit.XdpContext(bytes(range(1, 61)))
    grow(ctx)
    # 14 zero bytes opened at the front, 10 at the end; the metadata opened is zeros
    assert ctx.packet == bytes(14) + bytes(range(1, 61)) + bytes(10)
    assert ctx.metadata == bytes(8)
    shrink = bpfjit.compile(asm_program(_source([(HEAD, 20), (TAIL, -5)])), forbid_python,
                            cache=False)
    ctx = bpfjit.XdpContext(bytes(range(1, 61)))
    assert shrink(ctx) == _expected([OK, OK], 35, 0)
    assert ctx.packet == bytes(range(21, 56))


def test_a_second_call_starts_from_the_first_ones_frame(forbid_python):
    fn = bpfjit.compile(asm_program(_source(CASES[0][0])), forbid_python, cache=False)
    ctx = bpfjit.XdpContext(bytes(60))
    assert fn(ctx) == _expected([OK, OK, OK], 84, 8)
    # headroom 216 - 14 = 202, then 188 left; metadata 8 + 8; tailroom 3460 - 10 - 10
    assert fn(ctx) == _expected([OK, OK, OK], 108, 16)
    assert (ctx.headroom, ctx.tailroom, ctx.metalen) == (188, 3440, 16)
    # and packet bytes given afresh start from a fresh frame every call
    assert [fn(bytes(60)) for _ in range(3)] == [_expected([OK, OK, OK], 84, 8)] * 3


def test_a_batch_resizes_one_frame(forbid_python):
    fn = bpfjit.compile(asm_program(_source([(HEAD, -100)])), forbid_python, cache=False)
    if not hasattr(fn, "run_batch"):
        pytest.skip("the interpreter has no native batch loop")
    ctx = bpfjit.XdpContext(bytes(60))
    # two calls fit in the 216-byte headroom, the third fails
    r0, _ = fn.run_batch(ctx, 3)
    assert r0 == _expected([EINVAL], 260, 0)
    assert len(ctx) == 260 and ctx.headroom == 16


def test_a_python_helper_after_a_native_resize_sees_the_new_frame(forbid_python):
    # xdp_get_buff_len (188) is answered in Python, from the context
    source = f"""
        mov r6, r1
        mov r2, -10
        call {HEAD}
        mov r1, r6
        mov r2, 5
        call {TAIL}
        mov r1, r6
        call {BUFF_LEN}
        exit
    """
    fn = bpfjit.compile(asm_program(source), forbid_python, cache=False)
    assert fn(bpfjit.XdpContext(bytes(60))) == 75


def test_a_tail_call_after_a_native_resize_runs_on_the_new_frame(forbid_python):
    table = make_map(MapSpec("jumps", 3, 4, 4, 2))
    env = KernelEnv(MapTable([table]))

    def program(source: str) -> bpfjit.Program:
        return bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="xdp",
                              prog_type="xdp")
    caller = program(f"""
        mov r6, r1
        mov r2, -4
        call {HEAD}
        mov r1, r6
        lddw r2, map_by_fd(0)
        mov r3, 1
        call {TAIL_CALL}
        mov r0, 1
        exit
    """)
    table[1] = program(_source([(META, -4)]))
    fn = bpfjit.compile(caller, forbid_python, cache=False)
    ctx = bpfjit.XdpContext(bytes(60))
    assert fn(ctx) == _expected([OK], 64, 4)
    assert len(ctx) == 64 and len(ctx.metadata) == 4 and ctx.headroom == 212
