"""The one cffi FFI instance (ABI mode: no C compiler needed) and the libc it opens.

Everything that crosses into native code declares its types here: libc's
mmap/mprotect/munmap and the memory functions generated code may call, the
run structure shared with JIT code, and helper function pointers.
"""

from __future__ import annotations

import cffi

from .runfields import RUN_FIELDS

__all__ = ["ffi", "libc", "HELPER_CTYPE", "REPORT_CTYPE", "ENTRY_CTYPE"]

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

# helpers get r1-r5 and the run's structure (where a failing helper sets the trap code)
HELPER_CTYPE = ("uint64_t(*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, "
                "struct bpfjit_run *)")
REPORT_CTYPE = "void(*)(struct bpfjit_run *)"
ENTRY_CTYPE = "uint64_t(*)(void *, uint64_t, struct bpfjit_run *)"

# parsed now, once, rather than inside the first compile (cffi parses C types lazily)
for _ctype in (HELPER_CTYPE, REPORT_CTYPE, ENTRY_CTYPE, "struct bpfjit_run *", "uint8_t[]",
               "void *[]", "uint64_t *", "void *", "uintptr_t"):
    ffi.typeof(_ctype)
