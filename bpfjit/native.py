"""The one cffi FFI instance (ABI mode: no C compiler needed) and the libc it opens.

Everything that crosses into native code declares its types here: libc's
mmap/mprotect/munmap and the memory functions generated code may call, the
run structure shared with JIT code, helper function pointers, and the few CPython C
API functions through which JIT code calls Python (bpfjit.pycall).
"""

from __future__ import annotations

import cffi

from .runfields import RUN_FIELDS

__all__ = ["ffi", "libc", "python_api", "ENTRY_CTYPE"]

ffi = cffi.FFI()
ffi.cdef("""
void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
int mprotect(void *addr, size_t len, int prot);
int munmap(void *addr, size_t length);
void *memset(void *s, int c, size_t n);
void *memcpy(void *dest, const void *src, size_t n);
void *memmove(void *dest, const void *src, size_t n);
""")
ffi.cdef("struct bpfjit_run {\n" + "".join(f"    {ctype} {name};\n" for name, ctype, _ in RUN_FIELDS)
         + "};")

libc = ffi.dlopen(None)

# the CPython C API, which bpfjit.pycall's trampolines call (only their addresses are
# taken here: JIT code reaches Python through them, not through libffi closures)
ffi.cdef("""
int PyGILState_Ensure(void);
void PyGILState_Release(int);
void *PyObject_CallFunction(void *callable, const char *format, ...);
unsigned long long PyLong_AsUnsignedLongLongMask(void *number);
void Py_DecRef(void *object);
void *PyErr_Occurred(void);
void PyErr_WriteUnraisable(void *object);
unsigned long pthread_self(void);
""")
python_api = ffi.dlopen(None)

# JIT code calls helpers as uint64_t (*)(r1, r2, r3, r4, r5, struct bpfjit_run *) and the
# trap reporter as void (*)(struct bpfjit_run *); both are bpfjit.pycall trampolines
ENTRY_CTYPE = "uint64_t(*)(void *, uint64_t, struct bpfjit_run *)"

# parsed now, once, rather than inside the first compile (cffi parses C types lazily)
for _ctype in (ENTRY_CTYPE, "struct bpfjit_run *", "uint8_t[]",
               "void *[]", "uint64_t *", "void *", "uintptr_t"):
    ffi.typeof(_ctype)
