"""The kernel's time helpers in native code, while the env's clock is the monotonic one.

bpf_ktime_get_ns, bpf_ktime_get_boot_ns and bpf_ktime_get_coarse_ns read `env.clock`
(bpfjit.kernel.KernelEnv), time.monotonic_ns unless a test replaces it.  Through
Python each call costs a cffi callback, ~300 ns, which a flow table or a rate limiter
pays for every packet (gamemann's XDP firewall: 390 ns a run, most of it one clock
read).  While env.clock is time.monotonic_ns, a JIT program's helper table points
those ids at a few instructions calling libc's clock_gettime(CLOCK_MONOTONIC), the
clock time.monotonic_ns reads; replacing env.clock points them back at Python.
"""

from __future__ import annotations

import struct

from .execmem import ExecMemory
from .native import ffi, libc

__all__ = ["CLOCK_HELPERS", "native_clock_address"]

CLOCK_HELPERS = (5, 125, 160)       # ktime_get_ns, ktime_get_boot_ns, ktime_get_coarse_ns
CLOCK_MONOTONIC = 1
_routine: list[ExecMemory] = []


def _code(clock_gettime: int) -> bytes:
    """uint64_t ktime(r1, r2, r3, r4, r5, run): the monotonic clock in ns (System V:
    rsp is 8 past a multiple of 16 on entry; a timespec on the stack)."""
    return b"".join([
        bytes.fromhex("48 83 ec 18"),                       # sub rsp, 24
        bytes.fromhex("bf") + struct.pack("<I", CLOCK_MONOTONIC),   # mov edi, 1
        bytes.fromhex("48 89 e6"),                          # mov rsi, rsp
        bytes.fromhex("48 b8") + struct.pack("<Q", clock_gettime),  # movabs rax, clock_gettime
        bytes.fromhex("ff d0"),                             # call rax
        bytes.fromhex("48 8b 04 24"),                       # mov rax, [rsp]  (tv_sec)
        bytes.fromhex("48 69 c0") + struct.pack("<I", 1_000_000_000),  # imul rax, rax, 1e9
        bytes.fromhex("48 03 44 24 08"),                    # add rax, [rsp + 8]  (tv_nsec)
        bytes.fromhex("48 83 c4 18"),                       # add rsp, 24
        bytes.fromhex("c3"),                                # ret
    ])


def native_clock_address() -> int:
    """The address of the native routine (made once per process)."""
    if not _routine:
        target = int(ffi.cast("uintptr_t", ffi.addressof(libc, "clock_gettime")))
        _routine.append(ExecMemory(_code(target)))
    return _routine[0].address
