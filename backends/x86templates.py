"""The peachpy engine's instruction templates (backends.x86asm) kept in the code cache,
so that a new program compiled in a new process neither imports PeachPy (~40 ms) nor has
it encode again the shapes earlier processes met (three encodings of ~20 µs each).

One entry, named by bpfjit's source (which holds the template format) and PeachPy's
installed files: read before a build when it changed since this process last read or
wrote it (one stat otherwise); stored again, merged with what is stored, after a build
that left this process with at least twice the templates it had when it last read or
wrote the entry, and at exit.  (Written after every build that encoded something new,
the whole entry was read and written again each time: 140 ms a compile in a test session
that had met thousands of shapes.)  Like every entry (bpfjit.cache) it is signed,
and a damaged or malformed one is not used: the templates are then encoded again.
Nothing is read or written when the compile does not use the cache (`cache=False`,
`BPFJIT_CACHE=off`).
"""

from __future__ import annotations

import atexit
import importlib.util
import os

from bpfjit import cache

from . import x86asm

__all__ = ["flush", "load", "save"]

_KIND = "templates"
# the entry's name; its stamp (bpfjit.cache.stamp) when last read or written; how many
# templates and branch opcodes this process then had; whether flush runs at exit
_state: dict = {"name": None, "stamp": None, "known": 0, "at_exit": False}


def _name() -> str:
    """The entry's name: bpfjit's source and the identity of PeachPy's files (found
    without importing it), worked out once per process."""
    if _state["name"] is None:
        spec = importlib.util.find_spec("peachpy")
        files = []
        if spec is not None and spec.origin:
            root = os.path.dirname(spec.origin)
            for relative in ("__init__.py", os.path.join("x86_64", "__init__.py"),
                             os.path.join("x86_64", "encoding.py")):
                try:
                    st = os.stat(os.path.join(root, relative))
                except OSError:
                    continue
                files.append((spec.origin, relative, st.st_size, st.st_mtime_ns))
        _state["name"] = cache.digest("x86-templates", cache.source_digest(), files)
    return _state["name"]


def _tuples(value):
    """JSON's lists back into the tuples shapes are made of."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _decode(header: dict, blob: bytes) -> tuple[dict, dict] | None:
    """The templates and branch opcodes of an entry, or None if it is malformed."""
    templates, branches = {}, {}
    try:
        for key, start, size, patches in header["templates"]:
            code = blob[start:start + size]
            patches = _tuples(patches)
            if len(code) != size or not all(
                    len(patch) == 3 and all(type(x) is int for x in patch)
                    and patch[1] >= 0 and patch[2] >= 1 and patch[1] + patch[2] <= size
                    for patch in patches):
                return None
            templates[_tuples(key)] = (code, patches)
        for key, start, size in header["branches"]:
            code = blob[start:start + size]
            if len(code) != size:
                return None
            branches[_tuples(key)] = code
    except (KeyError, TypeError, ValueError):
        return None
    return templates, branches


def _encode(templates: dict, branches: dict) -> tuple[dict, bytes]:
    blob = bytearray()
    rows, branch_rows = [], []
    for key, (code, patches) in templates.items():
        rows.append([key, len(blob), len(code), patches])
        blob += code
    for key, code in branches.items():
        branch_rows.append([key, len(blob), len(code)])
        blob += code
    return {"templates": rows, "branches": branch_rows}, bytes(blob)


def _stored() -> tuple[dict, dict] | None:
    hit = cache.load(_KIND, _name())
    return None if hit is None else _decode(*hit)


def load() -> None:
    """Learn the stored templates, unless the entry is as it was when last read or
    written (another process may have stored more; the cache directory may change)."""
    name = _name()
    now = cache.stamp(_KIND, name)
    if now is None or now == _state["stamp"]:
        return
    stored = _stored()
    if stored is not None:
        x86asm.learn(*stored)
    # the stamp taken before reading: an entry written since is read at the next load
    _state["stamp"], _state["known"] = now, x86asm.encoding_count()


def save() -> None:
    """After a build that used the cache: store this process's templates once it has
    encoded as many since the entry was last read or written as it then had (so a
    process writes it about log2(its templates) times); flush stores the rest at exit."""
    new = x86asm.encoding_count() - _state["known"]
    if new <= 0:
        return
    if not _state["at_exit"]:
        atexit.register(flush)
        _state["at_exit"] = True
    if new >= _state["known"]:
        flush()


def flush() -> None:
    """Store this process's templates, with the stored ones (read again only when another
    process wrote the entry since), if PeachPy encoded any since it was last written."""
    if x86asm.encoding_count() <= _state["known"]:
        return
    name = _name()
    if cache.stamp(_KIND, name) != _state["stamp"]:
        stored = _stored()
        if stored is not None:
            x86asm.learn(*stored)
    cache.store(_KIND, name, *_encode(*x86asm.encodings()))
    _state["stamp"], _state["known"] = cache.stamp(_KIND, name), x86asm.encoding_count()
