"""The kernel engine: a program run by the running kernel — its verifier, its JIT —
through BPF_PROG_TEST_RUN (bpfjit.bpfsys), attached to nothing.

interp, llvm and peachpy share one reading of RFC 9669; the kernel is an independent
one, so the fuzzer compares against it (`bpfjit fuzz --engines interp,kernel`).  What it
runs: plain programs as the kernel's `BPF_PROG_TYPE_SYSCALL` (r1 points at a copy of
the memory, written back after the run), XDP programs as XDP (the packet; at least
14 bytes, as the kernel requires; calling also the helpers that read, write, move or
resize the frame), tc programs as tc (backends/kernelskb.py: the
fields of the socket buffer it can reproduce, and the packet's own helpers), cgroup_skb
programs and socket filters (an Ethernet header in front of their packet, which the
test run strips; a socket filter's legacy loads by a negative offset refused), calling
no other helper but the map helpers (lookup, update, delete), bpf_loop, the spin locks
and the timers (which the kernel fires itself), on array, hash, LRU hash and LPM trie
maps (a run that leaves an LRU map full is refused: the kernel's eviction is an
approximation): each has a twin in the kernel (backends/kernelmaps.py), whose `lddw`
file descriptors replace the program's map indices.  A test run returns 32 bits of r0, so each program is loaded twice: as
given, and with every exit of its main subprogram preceded by `rsh r0, 32`; r0 is
the two joined.  The program is deterministic (no other helper), so both runs start
from the maps' entries and the first's are kept.  The kernel proves termination, so
no budget applies; a program it refuses raises VerifierError with the kernel's reason.
"""

from __future__ import annotations

import bisect
import dataclasses
import struct
import weakref

from bpfjit import bpfsys
from bpfjit.cfg import code_addresses, subprogram_ranges
from bpfjit.context import CONTEXTS, copy_back, refuse_context
from bpfjit.errors import BpfError
from bpfjit.helpers.loops import BPF_LOOP, FOR_EACH_MAP_ELEM
from bpfjit.isa import Insn, Kind, find_spec
from bpfjit.memory import as_buffer
from bpfjit.program import Program
from bpfjit.testrun import TestRunnable

from .kernelmaps import KernelMaps, on_one_cpu
from .kernelskb import SKB_HELPERS, check_fields, skb_input, skb_output

__all__ = ["compile_kernel", "KernelProgram", "XDP_MIN_PACKET"]

XDP_MIN_PACKET = 14             # an Ethernet header: the kernel's XDP test run minimum
# struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
_XDP_MD = struct.Struct("<6I")
_UNSUPPORTED = {Kind.CALLX: "calls a helper", Kind.CALL_BTF: "calls a kernel function",
                Kind.LD_PACKET: "uses a legacy packet load"}
# map_lookup_elem, map_update_elem, map_delete_elem: the helpers a run may call
MAP_HELPERS = frozenset((1, 2, 3))
CPU_ID = 8                      # bpf_get_smp_processor_id
# the helpers the kernel engine's programs call: the map helpers, bpf_loop,
# bpf_for_each_map_elem, bpf_spin_lock/unlock and the bpf_timer helpers (their maps'
# twins are described in BTF: bpfsys.value_fields_btf; the kernel fires the timers
# itself, as time passes)
TIMER_HELPERS = frozenset((169, 170, 171, 172))
# and bpf_get_smp_processor_id, where the run's CPU is 0, as bpfjit's engines say
# and bpf_strncmp (its strings in .rodata, made read-only and frozen: backends/kernelmaps.py)
STRNCMP = 182
# and bpf_get_current_cgroup_id: the test run's task is this process, whose cgroup
# KernelEnv.cgroup_id is by default
CGROUP_ID = 80
# and bpf_snprintf (its format in .rodata, as strncmp's strings)
SNPRINTF = 165
_HELPERS_RUN = MAP_HELPERS | {BPF_LOOP, FOR_EACH_MAP_ELEM, 93, 94, CPU_ID, STRNCMP,
                              CGROUP_ID, SNPRINTF} | TIMER_HELPERS
# and an XDP program's helpers on its own frame: csum_diff, xdp_adjust_head,
# xdp_adjust_meta, xdp_adjust_tail, check_mtu, xdp_get_buff_len, xdp_load_bytes,
# xdp_store_bytes
_XDP_HELPERS = _HELPERS_RUN | {28, 44, 54, 65, 163, 188, 189, 190}
# lddw's pseudo sources: a map (by index here, by file descriptor in the kernel), a
# map value at an offset, a subprogram's address
_MAP_FD, _MAP_VALUE, _FUNCTION = 1, 2, 4


_TC = ("sched_cls", "sched_act")
# skb programs whose test run shows the packet from the network header on
_FROM_L3 = ("cgroup_skb", "socket_filter")


def _refuse(reason: str) -> BpfError:
    return BpfError(f"the kernel engine runs plain, XDP, tc, cgroup_skb and socket filter "
                    f"programs that call no helper but the map helpers, bpf_loop, "
                    f"for_each_map_elem, get_smp_processor_id, strncmp, snprintf, "
                    f"get_current_cgroup_id, the spin locks, the timers and (XDP, tc, "
                    f"cgroup_skb, socket filters) the packet's own; this one {reason}")


def _with_map_fds(code: bytes, fds: list[int]) -> bytes:
    """The bytecode with each `lddw` of a map (or a map's value) naming the kernel twin's
    file descriptor instead of the map's index."""
    raw = bytearray(code)
    for at in range(0, len(raw), 8):
        if raw[at] == 0x18 and raw[at + 1] >> 4 in (_MAP_FD, _MAP_VALUE):
            index = int.from_bytes(raw[at + 4:at + 8], "little")
            raw[at + 4:at + 8] = fds[index].to_bytes(4, "little")
    return bytes(raw)


def _maps_named(prog: Program) -> frozenset[int]:
    """The indices of the maps the program's `lddw`s name (its object may hold more)."""
    return frozenset(insn.imm for insn in prog.insns
                     if insn.kind is Kind.LDDW and insn.src in (_MAP_FD, _MAP_VALUE))


def high_half_program(prog: Program) -> Program:
    """`prog` with each exit of its main subprogram turned into a jump to a new
    `rsh r0, 32; exit` at that subprogram's end (later subprograms move down 2 slots,
    and the calls and code addresses that cross them follow)."""
    end = subprogram_ranges(prog)[0][1]
    ja, gotol, rsh, exit_ = (find_spec(op, 0, 0, imm) for op, imm in
                             ((0x05, 0), (0x06, 0), (0x77, 32), (0x95, 0)))
    out = []
    for pc, insn in zip(prog.pcs, prog.insns):
        moved = 2 if pc >= end else 0
        if insn.kind is Kind.EXIT and pc < end:
            distance = end - (pc + 1)       # to the stub, which takes pc `end`
            insn = (dataclasses.replace(insn, spec=ja, off=distance) if distance < 1 << 15
                    else dataclasses.replace(insn, spec=gotol, imm=distance))
        elif insn.kind is Kind.CALL_LOCAL or (insn.kind is Kind.LDDW and insn.src == 4):
            target = pc + insn.imm + 1
            shift = (2 if target >= end else 0) - moved
            insn = dataclasses.replace(insn, imm=insn.imm + shift)
        out.append(insn)
    main = bisect.bisect_left(prog.pcs, end)          # instructions of the main subprogram
    out[main:main] = [Insn(rsh, dst=0, imm=32), Insn(exit_)]
    return prog.with_insns(out)


class KernelProgram(TestRunnable):
    """A program loaded into the running kernel; calling it test-runs it there."""

    engine = "kernel"

    def __init__(self, program: Program, reads: frozenset[str] = frozenset()):
        self.program = program
        self.kind = "xdp" if program.context == "xdp" else \
            program.prog_type if program.prog_type in _FROM_L3 else \
            "sched_cls" if program.context == "skb" else "syscall"
        # the kernel shows a cgroup_skb program's packet, and a socket filter's, from
        # skb->data on, after the Ethernet header its test run strips: one is put in
        # front (skb_input's l3); a socket filter's packet is the whole frame, which it
        # then sees from its first byte, as on a packet socket
        self._l3 = self.kind in _FROM_L3
        self._reads = reads             # (tc) the socket buffer's fields the program reads
        # whether it asks which CPU it runs on (bpfjit's engines say 0)
        self._asks_cpu = any(insn.kind is Kind.CALL and insn.imm == CPU_ID
                             for _, insn in program)
        self._fds: list[int] = []
        self._twins = KernelMaps(program.maps.list, _maps_named(program))
        self._finalizer = weakref.finalize(self, _close_all, self._fds, self._twins)
        fds = self._twins.fds
        for twin, name in ((program, "bpfjit"), (high_half_program(program), "bpfjit_high")):
            # a program with callbacks goes with BTF naming its subprograms
            functions = tuple(first for first, _ in subprogram_ranges(twin)) \
                if code_addresses(twin) else ()
            self._fds.append(bpfsys.prog_load(
                _with_map_fds(twin.to_bytes(), fds), self.kind, name, functions,
                attach=program.attach_type if self._l3 else None))
        self.extra: dict = {}

    def _run(self, fd: int, **inputs) -> bpfsys.TestRun:
        """One test run, its twins given the maps' entries first, on one CPU (whose
        values of a per-CPU map are the run's: `self._cpu`)."""
        if self._twins.maps:
            self._twins.give()
        with on_one_cpu() as cpu:
            if cpu != 0 and self._asks_cpu:
                raise BpfError(f"the kernel engine runs on CPU {cpu} here, not 0: "
                               f"bpf_get_smp_processor_id would tell it from bpfjit's "
                               f"engines (which run on CPU 0)")
            self._cpu = cpu
            return bpfsys.test_run(fd, **inputs)

    def __call__(self, mem: object = None) -> int:
        """Run once on `mem` (bytes-like or None; for an XDP program, the packet or an
        XdpContext); writable memory gets the program's writes; r0 as 64 bits."""
        if self.kind == "xdp":
            ctx = CONTEXTS["xdp"].wrap(mem)
            data, md = self._xdp_input(ctx)
            low = self._run(self._fds[0], data=data, ctx=md)
            after = self._twins.read(self._cpu)
            self._twins.refuse_full_lru(after)
            high = self._run(self._fds[1], data=data, ctx=md)
            # the metadata and the packet as the program left them, moved or resized by
            # its helpers: the data out starts at the metadata, and the context out
            # says where the packet starts and ends in it
            start, end = _XDP_MD.unpack(low.ctx)[:2]
            ctx.set_frame(low.data[:start], low.data[start:end])
            copy_back(mem, ctx)
        elif self.kind in ("sched_cls",) + _FROM_L3:
            ctx = CONTEXTS["skb"].wrap(mem)
            data, block = skb_input(ctx, self._reads, self._l3)
            low = self._run(self._fds[0], data=data, ctx=block)
            after = self._twins.read(self._cpu)
            self._twins.refuse_full_lru(after)
            high = self._run(self._fds[1], data=data, ctx=block)
            skb_output(ctx, low.data, low.ctx, self._l3)
            copy_back(mem, ctx)
        else:
            refuse_context(mem)
            view = as_buffer(mem)
            data = bytes(view)
            try:
                low = self._run(self._fds[0], ctx=data, ctx_in_place=True)
                after = self._twins.read(self._cpu)
                high = self._run(self._fds[1], ctx=data, ctx_in_place=True)
            except BpfError as exc:
                raise BpfError(f"{exc} (the kernel needs the memory to cover every offset "
                               f"the program may access: {len(data)} bytes given)") from None
            self._twins.refuse_full_lru(after)
            view[:] = low.ctx
        self._twins.take(after)             # the maps as the first run left them
        return (high.retval << 32) | low.retval

    def run_batch(self, mem: object, count: int) -> tuple[int, float]:
        """Run an XDP or tc program `count` times in the kernel (one BPF_PROG_TEST_RUN
        with `repeat`); (r0, ns per run as the kernel timed it).  The kernel repeats only
        test runs of programs with a packet: a plain program raises BpfError."""
        if self.kind == "syscall":
            raise BpfError("the kernel repeats test runs only of programs with a packet "
                           "(XDP and tc here); a plain program cannot be timed in the kernel")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 < count < 2**32:
            raise BpfError(f"count must be an int from 1 to 2**32 - 1, got {count!r}")
        r0 = self(mem)
        if self.kind == "xdp":
            data, ctx = self._xdp_input(CONTEXTS["xdp"].wrap(mem))
        else:
            data, ctx = skb_input(CONTEXTS["skb"].wrap(mem), self._reads, self._l3)
        # (the timed runs start from the maps' entries after that run, and leave them)
        return r0, float(self._run(self._fds[0], data=data, ctx=ctx, repeat=count).duration)

    def _xdp_input(self, ctx) -> tuple[bytes, bytes]:
        """The data (metadata, then the packet) and the struct xdp_md of a test run on
        `ctx`: the metadata's length and the receive queue it names (the kernel refuses
        an interface that does not exist, or a queue it does not have)."""
        packet, meta = ctx.packet, ctx.metalen
        if len(packet) < XDP_MIN_PACKET:
            raise BpfError(f"the kernel runs XDP programs on packets of at least "
                           f"{XDP_MIN_PACKET} bytes, not {len(packet)}")
        return ctx.metadata + packet, _XDP_MD.pack(
            meta, meta + len(packet), 0, ctx.ingress_ifindex & 0xFFFFFFFF,
            ctx.rx_queue_index & 0xFFFFFFFF, 0)

    def close(self) -> None:
        """Unload the program from the kernel (also done when it is collected)."""
        self._finalizer()


def _close_all(fds: list[int], twins: KernelMaps) -> None:
    for fd in fds:
        bpfsys.close(fd)
    fds.clear()
    twins.close()


def compile_kernel(verified, helpers=None) -> KernelProgram:
    """Load a verified program into the kernel; BpfError for what it cannot run here,
    VerifierError when the kernel's verifier refuses it."""
    prog = verified.source or verified.program      # context accesses as written
    if helpers:
        raise _refuse("was given helpers")
    tc = prog.context == "skb" and prog.prog_type in _TC + _FROM_L3
    if prog.context not in (None, "xdp") and not tc:
        raise _refuse(f"is a {prog.prog_type or prog.context} program")
    allowed = SKB_HELPERS if tc else _XDP_HELPERS if prog.context == "xdp" else _HELPERS_RUN
    for pc, insn in zip(prog.pcs, prog.insns):
        if insn.kind in _UNSUPPORTED and not (tc and insn.kind is Kind.LD_PACKET):
            raise _refuse(f"{_UNSUPPORTED[insn.kind]} at pc {pc}")
        if prog.prog_type == "socket_filter" and pc in verified.header_loads:
            # SKF_NET_OFF and SKF_LL_OFF name the headers bpfjit puts at 14 and 0 of a
            # socket filter's frame, the kernel's test run at skb->data and before it
            # (the verifier lists the loads whose offset may be negative)
            raise _refuse(f"may read a header by a negative offset at pc {pc} (a socket "
                          f"filter's test run in the kernel starts at the network header)")
        if insn.kind is Kind.CALL and insn.imm not in allowed:
            raise _refuse(f"calls helper {insn.imm} at pc {pc}")
        if insn.kind is Kind.LDDW and insn.src not in (0, _MAP_FD, _MAP_VALUE, _FUNCTION):
            raise _refuse(f"loads a pseudo value of kind {insn.src} at pc {pc}")
    reads = frozenset(check_fields(verified)[0]) if tc else frozenset()
    return KernelProgram(prog, reads)
