"""The public API: compile(), memory buffer handling, engines, the error hierarchy."""

import array

import pytest

import bpfjit
from bpfjit.errors import (AssembleError, BackendUnavailable, BpfTrap, BudgetExceeded,
                           CallDepthExceeded, DecodeError, ElfError, HelperError,
                           MemoryAccessError, VerifierError)

WRITE_FIRST_BYTE = "stb [%r1], 0x5a\nldxb %r0, [%r1+1]\nexit"


def test_public_names():
    for name in ("Program", "assemble", "disassemble", "compile", "BpfError"):
        assert hasattr(bpfjit, name)
    assert callable(bpfjit.Program.from_bytes)


def test_every_error_derives_from_bpf_error():
    for cls in (DecodeError, AssembleError, VerifierError, ElfError, BackendUnavailable,
                BpfTrap, MemoryAccessError, BudgetExceeded, CallDepthExceeded, HelperError):
        assert issubclass(cls, bpfjit.BpfError)
    for cls in (MemoryAccessError, BudgetExceeded, CallDepthExceeded, HelperError):
        assert issubclass(cls, BpfTrap)


def test_interpreter_is_always_available():
    assert "interp" in bpfjit.engines()


def test_result_is_unsigned_64_bit(engine):
    assert bpfjit.compile(bpfjit.assemble("mov %r0, -1\nexit"), engine)() == 2**64 - 1


def test_bytearray_is_written_in_place(engine):
    mem = bytearray(b"\x00\x07")
    assert bpfjit.compile(bpfjit.assemble(WRITE_FIRST_BYTE), engine)(mem) == 7
    assert mem == bytearray(b"\x5a\x07")


def test_bytes_are_copied_and_left_alone(engine):
    mem = b"\x00\x07"
    assert bpfjit.compile(bpfjit.assemble(WRITE_FIRST_BYTE), engine)(mem) == 7
    assert mem == b"\x00\x07"


def test_writable_memoryview_and_array_are_written(engine):
    fn = bpfjit.compile(bpfjit.assemble(WRITE_FIRST_BYTE), engine)
    backing = bytearray(4)
    fn(memoryview(backing)[1:3])
    assert backing == bytearray(b"\x00\x5a\x00\x00")
    arr = array.array("H", [0x0700, 0])          # 2-byte items: bytes 00 07 00 00
    fn(arr)
    assert arr.tobytes()[:2] == b"\x5a\x07"


def test_readonly_memoryview_is_copied(engine):
    data = b"\x00\x07"
    fn = bpfjit.compile(bpfjit.assemble(WRITE_FIRST_BYTE), engine)
    assert fn(memoryview(data)) == 7
    assert data == b"\x00\x07"


def test_numpy_array_is_written_in_place(engine):
    np = pytest.importorskip("numpy")
    arr = np.zeros(4, dtype=np.uint8)
    arr[1] = 7
    assert bpfjit.compile(bpfjit.assemble(WRITE_FIRST_BYTE), engine)(arr) == 7
    assert arr[0] == 0x5A


# r1 = the buffer (0 when it is empty), r2 = its length in bytes: 4 * 3 * 4 = 48 for a
# 4x3 array of uint32, whatever its shape
LENGTH_AND_NULLNESS = "mov %r0, %r2\nlsh %r0, 1\njeq %r1, 0, +1\nor %r0, 1\nexit"


def test_every_buffer_kind_is_seen_whole(engine):
    np = pytest.importorskip("numpy")
    fn = bpfjit.compile(bpfjit.assemble(LENGTH_AND_NULLNESS), engine)
    assert fn(np.zeros((4, 3), dtype=np.uint32)) == 48 * 2 + 1
    assert fn(bytes(5)) == 5 * 2 + 1
    assert fn(memoryview(bytes(6))) == 6 * 2 + 1
    assert fn(bytearray()) == 0 and fn(b"") == 0 and fn(None) == 0
    assert fn(np.zeros(0, dtype=np.uint8)) == 0


def test_fortran_ordered_array_is_refused(engine):
    np = pytest.importorskip("numpy")
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 0\nexit"), engine)
    with pytest.raises(bpfjit.BpfError, match="contiguous"):
        fn(np.zeros((3, 4), dtype=np.uint8, order="F"))


@pytest.mark.parametrize("bad", ["text", 42, [1, 2]])
def test_memory_of_the_wrong_type(engine, bad):
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 0\nexit"), engine)
    with pytest.raises(bpfjit.BpfError, match="bytes-like"):
        fn(bad)


def test_non_contiguous_memory(engine):
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 0\nexit"), engine)
    with pytest.raises(bpfjit.BpfError, match="contiguous"):
        fn(memoryview(bytearray(8))[::2])


def test_compiled_program_can_run_many_times(engine):
    fn = bpfjit.compile(bpfjit.assemble("ldxb %r0, [%r1]\nadd %r0, 1\nstxb [%r1], %r0\nexit"),
                        engine)
    mem = bytearray(1)
    assert [fn(mem) for _ in range(3)] == [1, 2, 3]


def test_compile_rejects_non_programs():
    with pytest.raises(bpfjit.BpfError, match="Program"):
        bpfjit.compile(b"\x95" + bytes(7))


def test_unknown_engine():
    with pytest.raises(BackendUnavailable, match="unknown engine 'gpu'"):
        bpfjit.compile(bpfjit.assemble("mov %r0, 0\nexit"), "gpu")


@pytest.mark.parametrize("name", ["llvm", "peachpy"])
def test_missing_backend_says_so(name):
    if name in bpfjit.engines():
        pytest.skip(f"{name} is available here")
    with pytest.raises(BackendUnavailable, match=name):
        bpfjit.compile(bpfjit.assemble("mov %r0, 0\nexit"), name)


def test_unknown_option(engine):
    with pytest.raises(bpfjit.BpfError, match="fast"):
        bpfjit.compile(bpfjit.assemble("mov %r0, 0\nexit"), engine, fast=True)


def test_trap_carries_pc_in_message(engine):
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 0\nldxw %r0, [%r0+16]\nexit"), engine)
    with pytest.raises(MemoryAccessError, match=r"^pc 1: out-of-bounds read of 4 bytes"):
        fn()
