"""The cffi declarations: generated ahead of time, in step with their source."""

import subprocess
import sys

import pytest

from bpfjit import ffidefs, native
from bpfjit.runfields import RUN_FIELDS


def test_generated_module_matches_the_declarations(tmp_path):
    # bpfjit/_ffi.py is what `make ffi` writes from bpfjit/ffidefs.py: writing it again
    # gives the same file, so it was not left behind by an edit of the declarations
    from bpfjit import _ffi
    written = tmp_path / "_ffi.py"
    ffidefs.generate(str(written))
    assert written.read_text() == open(_ffi.__file__).read()
    assert _ffi.CDEF_DIGEST == ffidefs.CDEF_DIGEST


def test_run_structure_layout_is_eight_bytes_a_field():
    # JIT code addresses field i at 8 * i (bpfjit.runfields)
    ctype = native.ffi.typeof("struct bpfjit_run")
    assert native.ffi.sizeof(ctype) == 8 * len(RUN_FIELDS)
    for index, (name, _, _) in enumerate(RUN_FIELDS):
        assert native.ffi.offsetof(ctype, name) == 8 * index


def test_importing_bpfjit_does_not_parse_c():
    # the generated module is read by cffi's C core: no pycparser at import
    out = subprocess.run([sys.executable, "-c",
                          "import sys, bpfjit; bpfjit.compile(bpfjit.assemble('mov r0, 1\\nexit'))()"
                          "; print('pycparser' in sys.modules, 'cffi.cparser' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_stale_generated_module_falls_back_to_parsing(monkeypatch):
    from bpfjit import _ffi
    monkeypatch.setattr(_ffi, "CDEF_DIGEST", "0" * 64)
    with pytest.warns(UserWarning, match="make ffi"):
        parsed = native._load_ffi()
    assert parsed is not _ffi.ffi
    assert parsed.sizeof("struct bpfjit_run") == 8 * len(RUN_FIELDS)
