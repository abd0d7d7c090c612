"""A persistent, per-user cache of verdicts and machine code, so that compiling the same
program in a new process (every pytest run) skips verification and code generation.

Two kinds of entry, each a file named by the SHA-256 of what it depends on:

- a verdict (`VerifiedProgram`): keyed by the bytecode, the program type, every map's
  definition (and the bytes of read-only data, which the verifier reads), the helpers'
  signatures, the mode, and bpfjit's own source;
- a code image (`bpfjit.codeimage.CodeImage`, position independent: maps and helpers
  are filled in when it is placed): keyed by its verdict, the engine, the options that
  change code, the CPU and, for llvm, llvmlite's version.

Two more, for the peachpy engine: its native map routines (backends.mapops) and its
assembler's templates (backends.x86templates).

The directory is `$BPFJIT_CACHE_DIR`, else `$XDG_CACHE_HOME/bpfjit`, else
`~/.cache/bpfjit`; it must be owned by the user and closed to others (mode 0700), or the
cache is not used.  Every entry carries an HMAC-SHA256 under a random key kept in the
directory (mode 0600), so a corrupt, truncated or foreign file is never trusted: it is
removed and the program compiled again.  `BPFJIT_CACHE=off` (or `compile(...,
cache=False)`) turns the cache off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import platform
import stat
import struct
import warnings
from pathlib import Path

__all__ = ["enabled", "directory", "load", "store", "stamp", "digest", "source_digest",
           "cpu_identity", "cpu_flags", "clear", "usage"]

MAGIC = b"BPFJITC1"
_HEADER = struct.Struct("<8s32sI")          # magic, HMAC, length of the JSON part
MAX_BYTES = 256 << 20                       # past this, the oldest entries go
_OFF = {"0", "off", "no", "false"}
_state: dict = {}                           # per process: directory, key, digests


def enabled() -> bool:
    """Whether the cache is on for this process (BPFJIT_CACHE is not 'off')."""
    return os.environ.get("BPFJIT_CACHE", "").strip().lower() not in _OFF


def _chosen_directory() -> Path:
    explicit = os.environ.get("BPFJIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bpfjit"


def directory() -> Path | None:
    """The cache directory, created owner-only if missing; None if it cannot be used
    (then a warning says why, once per directory)."""
    path = _chosen_directory()
    if _state.get("dir") == path:
        return path
    try:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            os.makedirs(path, mode=0o700, exist_ok=True)
            info = os.stat(path)
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError(f"{path} is not a directory")
        if info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise PermissionError(f"it must be owned by uid {os.geteuid()} with mode 0700")
        _state["key"] = _secret(path)
    except OSError as exc:
        if _state.get("warned") != path:
            _state["warned"] = path
            warnings.warn(f"bpfjit: not using the code cache {path}: {exc}", stacklevel=3)
        return None
    _state["dir"] = path
    return path


def _secret(path: Path) -> bytes:
    """The directory's HMAC key: 32 random bytes in `key`, created on first use."""
    key_file = path / "key"
    try:
        fd = os.open(key_file, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:         # another process made it meanwhile
            return _secret(path)
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(32))
        return _secret(path)
    with os.fdopen(fd, "rb") as key:
        info = os.fstat(key.fileno())
        if info.st_uid != os.geteuid() or info.st_mode & 0o077 or info.st_size != 32 \
                or not stat.S_ISREG(info.st_mode):
            raise PermissionError(f"{key_file} is not a private 32-byte key file")
        return key.read()


# the canonical forms of frozen dataclasses met so far (helper signatures, map specs),
# by id: a verdict's name hashes the same few dozen signatures every time
_FORMS: dict[int, tuple[object, object]] = {}


def _canonical(value: object) -> object:
    """A JSON-able form of `value` that is the same in every process (sets sorted,
    dataclasses by field), for hashing."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        frozen = type(value).__dataclass_params__.frozen    # then its form never changes
        known = _FORMS.get(id(value)) if frozen else None
        if known is not None and known[0] is value:
            return known[1]
        form = [type(value).__name__] + [_canonical(getattr(value, f.name))
                                         for f in dataclasses.fields(value)]
        if frozen:
            if len(_FORMS) >= 4096:              # loaded objects come and go: bounded
                _FORMS.clear()
            _FORMS[id(value)] = (value, form)     # the value is kept: its id stays its own
        return form
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, dict):
        return sorted(([_canonical(k), _canonical(v)] for k, v in value.items()), key=repr)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"{type(value).__module__}.{type(value).__qualname__}"


def digest(*parts: object) -> str:
    """The hex SHA-256 of `parts` in canonical form: an entry's name."""
    text = json.dumps(_canonical(parts), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def source_digest() -> str:
    """A digest of bpfjit's own Python source files (the package and its backends), so
    that a changed verifier or code generator never reuses an old entry.  A copy pip
    installed from a wheel is named by its RECORD, which lists every installed file with
    its SHA-256 (one read); a source tree (an editable install) by its files' names,
    sizes and modification times (stat, not read, through `os.scandir`: ~100 files,
    ~0.5 ms)."""
    if "source" not in _state:
        import bpfjit
        import bpfjit.backends as backends
        package = os.path.dirname(bpfjit.__file__)
        found = installed_digest(package, bpfjit.__version__)
        if found is None:
            h = hashlib.sha256()
            for root in sorted({package, os.path.dirname(backends.__file__)}):
                _digest_tree(h, root, "")
            found = h.hexdigest()
        _state["source"] = found
    return _state["source"]


def installed_digest(package: str, version: str) -> str | None:
    """The digest of the RECORD pip wrote beside the installed package directory
    `package` (a wheel install), or None when there is none listing bpfjit's files."""
    record = os.path.join(os.path.dirname(package), f"bpfjit-{version}.dist-info", "RECORD")
    try:
        with open(record, "rb") as listing:
            text = listing.read()
    except OSError:
        return None
    if b"bpfjit/cache.py,sha256=" not in text:
        return None
    return hashlib.sha256(b"RECORD\0" + text).hexdigest()


def _digest_tree(h, directory: str, relative: str) -> None:
    """Add each .py file under `directory` (name, size, mtime) to `h`, in name order."""
    with os.scandir(directory) as entries:
        ordered = sorted(entries, key=lambda entry: entry.name)
    for entry in ordered:
        if entry.name.endswith(".py"):
            info = entry.stat()
            h.update(f"{relative}/{entry.name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
        elif entry.name != "__pycache__" and entry.is_dir(follow_symlinks=False):
            _digest_tree(h, entry.path, f"{relative}/{entry.name}")


def cpu_flags() -> frozenset[str]:
    """The processor's feature flags (from /proc/cpuinfo; empty when unknown), on which
    a JIT may choose instructions: part of cpu_identity, so of every code image's key."""
    return frozenset(cpu_identity().rpartition("|")[2].split())


def cpu_identity() -> str:
    """The processor model and feature flags machine code may depend on."""
    if "cpu" not in _state:
        model = flags = ""
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
                for line in info:
                    name, _, rest = line.partition(":")
                    name = name.strip()
                    if name == "model name" and not model:
                        model = rest.strip()
                    elif name == "flags" and not flags:
                        flags = rest.strip()
                    if model and flags:
                        break
        except OSError:
            pass
        _state["cpu"] = f"{platform.machine()}|{model}|{flags}"
    return _state["cpu"]


def _path(kind: str, name: str) -> Path | None:
    root = directory()
    return None if root is None else root / f"{name}.{kind}"


def stamp(kind: str, name: str) -> tuple | None:
    """What tells whether an entry changed since it was last read: its path, size and
    modification time (its path alone when there is none); None without a directory."""
    path = _path(kind, name)
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return (str(path),)
    return str(path), st.st_size, st.st_mtime_ns


def load(kind: str, name: str) -> tuple[dict, bytes] | None:
    """The (header, blob) stored under `name`, or None; an entry that fails its
    integrity check is removed."""
    path = _path(kind, name)
    if path is None:
        return None
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        magic, tag, length = _HEADER.unpack_from(raw)
        body = raw[_HEADER.size:]
        expected = hmac.new(_state["key"], name.encode() + b"\0" + body, "sha256").digest()
        if magic != MAGIC or not hmac.compare_digest(tag, expected) or length > len(body):
            raise ValueError("integrity check failed")
        header = json.loads(body[:length])
        if not isinstance(header, dict):
            raise ValueError("not an entry")
    except (ValueError, struct.error):
        _remove(path)
        return None
    return header, body[length:]


def store(kind: str, name: str, header: dict, blob: bytes = b"") -> None:
    """Write an entry atomically (a private temporary file, then rename); failures
    are ignored, the cache being only an optimisation."""
    path = _path(kind, name)
    if path is None:
        return
    text = json.dumps(header, separators=(",", ":")).encode()
    body = text + blob
    tag = hmac.new(_state["key"], name.encode() + b"\0" + body, "sha256").digest()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(_HEADER.pack(MAGIC, tag, len(text)) + body)
        os.replace(temporary, path)
    except OSError:
        _remove(temporary)
        return
    _state["stored"] = _state.get("stored", 0) + 1
    if _state["stored"] % 64 == 0:
        _trim(path.parent)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _entries(root: Path) -> list[os.DirEntry]:
    with os.scandir(root) as it:
        return [e for e in it if e.is_file() and e.name.count(".") == 1 and e.name != "key"]


def _trim(root: Path, limit: int = MAX_BYTES) -> None:
    """Remove the least recently written entries until the cache holds at most `limit`."""
    try:
        entries = sorted(_entries(root), key=lambda e: e.stat().st_mtime)
        total = sum(e.stat().st_size for e in entries)
        for entry in entries:
            if total <= limit:
                break
            total -= entry.stat().st_size
            _remove(Path(entry.path))
    except OSError:
        pass


def usage() -> tuple[Path, int, int]:
    """(directory, number of entries, bytes) of the cache in use."""
    root = _chosen_directory()
    if not root.is_dir():
        return root, 0, 0
    entries = _entries(root)
    return root, len(entries), sum(e.stat().st_size for e in entries)


def clear() -> int:
    """Remove every entry (and the key); returns how many entries there were."""
    root = _chosen_directory()
    if not root.is_dir():
        return 0
    entries = _entries(root)
    for entry in entries:
        _remove(Path(entry.path))
    _remove(root / "key")
    _state.pop("dir", None)
    return len(entries)
