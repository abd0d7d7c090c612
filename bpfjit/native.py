"""The one cffi FFI instance (ABI mode: no C compiler needed) and the libc it opens.

Everything that crosses into native code declares its types in bpfjit.ffidefs; this
module loads them from the ahead-of-time module `bpfjit/_ffi.py` (cffi's out-of-line
ABI mode), so importing bpfjit never runs pycparser.  If that module does not match the
declarations (ffidefs edited without `make ffi`), it parses them in line instead, as
cffi's in-line mode does, and warns once.
"""

from __future__ import annotations

import warnings

from .ffidefs import CDEF, CDEF_DIGEST

__all__ = ["ffi", "libc", "python_api", "ENTRY_CTYPE"]


def _load_ffi():
    """The FFI of the generated module, or one parsed now if that module is stale."""
    try:
        from . import _ffi
        if _ffi.CDEF_DIGEST == CDEF_DIGEST:
            return _ffi.ffi
    except (ImportError, AttributeError):
        pass
    warnings.warn("bpfjit/_ffi.py does not match bpfjit/ffidefs.py; parsing the C "
                  "declarations at import (run `make ffi` to regenerate it)", stacklevel=3)
    import cffi
    inline = cffi.FFI()
    inline.cdef(CDEF)
    return inline


ffi = _load_ffi()

# libc's functions, and the CPython C API, whose addresses bpfjit.pycall's trampolines
# call (JIT code reaches Python through them, not through libffi closures); both are
# symbols of this process
libc = python_api = ffi.dlopen(None)

# JIT code calls helpers as uint64_t (*)(r1, r2, r3, r4, r5, struct bpfjit_run *) and the
# trap reporter as void (*)(struct bpfjit_run *); both are bpfjit.pycall trampolines
ENTRY_CTYPE = "uint64_t(*)(void *, uint64_t, struct bpfjit_run *)"
