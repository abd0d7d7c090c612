"""Machine code that does not depend on where this process put things.

A JIT's output is a `CodeImage`: the bytes, plus the 8-byte fields that must hold an
address known only when the code is placed — the image's own address (absolute
relocations), a libc function (memset, reached through a stub) or a map's value arena.
`place()` fills them in and maps the code read-execute.  Because the image names those
addresses instead of containing them, it can be stored and placed again in another
process (the code cache, `bpfjit.cache`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .errors import BpfError
from .execmem import ExecMemory
from .native import ffi, libc

__all__ = ["CodeImage", "Fixup", "LIBC_SYMBOLS", "MAP_SYMBOL", "INDEX_SYMBOL", "KEYS_SYMBOL",
           "cached_image"]

LIBC_SYMBOLS = ("memset", "memcpy", "memmove")
MAP_SYMBOL = "bpfjit_map_{}"    # how generated code names map {index}'s value arena
INDEX_SYMBOL = "bpfjit_index_{}"    # ... and a hash map's native key index
KEYS_SYMBOL = "bpfjit_keys_{}"      # ... and the keys a bpf_for_each_map_elem walks

# what an 8-byte field holds once placed:
#   ("self", offset)         the image's address + offset
#   ("libc", name)           the address of a libc function
#   ("map", index, addend)   the value arena of the program's map `index`, + addend
#   ("index", index)         the native key index of the program's hash map `index`
#   ("keys", index)          the keys of map `index` (Map.key_area): for_each callbacks'
#   ("helper", id)           the native entry of helper `id` (runtime.HelperTable)
#   ("helper_slot", id)      where the table holds it (an entry that changes: the
#                            env's time helpers, bpfjit.nativeclock)
#   ("helpers",)             the helper table itself
Fixup = tuple


@dataclass(frozen=True)
class CodeImage:
    """Position-independent machine code and what `place` must write into it."""
    code: bytes
    fixups: tuple[tuple[int, Fixup], ...] = ()      # (offset of the 8-byte field, what)
    symbols: dict[str, int] = field(default_factory=dict)   # function name -> offset
    text_range: tuple[int, int] = (0, 0)            # (offset, size) of the code proper
    lines: list | None = None                       # sorted (offset, pc) for listings

    def place(self, maps=(), helpers=None) -> ExecMemory:
        """Map the code read-execute with every fixup written; `maps` is the program's
        map list (`Program.maps.list`), `helpers` the run's runtime.HelperTable."""
        values = []
        for where, what in self.fixups:
            if what[0] == "self":
                values.append((where, None, what[1]))
                continue
            if what[0] == "libc":
                if what[1] not in LIBC_SYMBOLS:
                    raise BpfError(f"code image needs {what[1]!r}, which bpfjit cannot link")
                address = int(ffi.cast("uintptr_t", ffi.addressof(libc, what[1])))
            elif what[0] == "map":
                index, addend = what[1], what[2]
                if not 0 <= index < len(maps):
                    raise BpfError(f"code image refers to map {index}, the program has "
                                   f"{len(maps)}")
                address = maps[index].address + addend
            elif what[0] == "index":
                index = what[1]
                found = maps[index].index if 0 <= index < len(maps) else None
                if found is None:
                    raise BpfError(f"code image refers to the index of map {index}, which "
                                   f"the program's maps do not have")
                address = found.address
            elif what[0] == "keys":
                index = what[1]
                if not (0 <= index < len(maps) and maps[index].ITERABLE):
                    raise BpfError(f"code image walks map {index}, which the program's "
                                   f"maps cannot be walked as")
                address = maps[index].key_area()[0]
            elif what[0] in ("helper", "helper_slot", "helpers"):
                if helpers is None or (what[0] != "helpers" and what[1] not in helpers):
                    raise BpfError(f"code image calls helper {what[1:]}, which this run "
                                   f"does not have")
                table = helpers.table
                if what[0] == "helper":
                    address = int(ffi.cast("uintptr_t", table[what[1]]))
                else:           # the table, or where it holds helper what[1]
                    address = int(ffi.cast("uintptr_t", table)) + \
                        (8 * what[1] if what[0] == "helper_slot" else 0)
            else:
                raise BpfError(f"unknown fixup {what!r} in a code image")
            values.append((where, address, 0))
        size = len(self.code)
        for where, _, _ in values:
            if not 0 <= where <= size - 8:
                raise BpfError(f"fixup at {where} lies outside the {size}-byte code image")

        def fill(base: int) -> bytes:
            image = bytearray(self.code)
            for where, address, offset in values:
                struct.pack_into("<Q", image, where,
                                 (base + offset if address is None else address) & (2**64 - 1))
            return bytes(image)

        return ExecMemory(fill, size)

    def record(self) -> dict:
        """The image's description as JSON-able data (its bytes are stored apart)."""
        return {"fixups": [[where, list(what)] for where, what in self.fixups],
                "symbols": self.symbols, "text_range": list(self.text_range),
                "lines": self.lines}

    @classmethod
    def from_record(cls, record: dict, code: bytes,
                    entry: str = "bpf_entry") -> "CodeImage":
        """The inverse of `record` (an image whose symbols include `entry`);
        ValueError/TypeError/KeyError for what is not one."""
        fixups = tuple((int(where), tuple(what)) for where, what in record["fixups"])
        symbols = {str(k): int(v) for k, v in record["symbols"].items()}
        lines = record["lines"]
        if lines is not None:
            lines = [(int(at), int(pc)) for at, pc in lines]
        start, length = record["text_range"]
        if entry not in symbols or any(not 0 <= v < len(code) for v in symbols.values()):
            raise ValueError("code image symbols outside its code")
        return cls(bytes(code), fixups, symbols, (int(start), int(length)), lines)


def cached_image(verified, engine: str, options: dict, build) -> CodeImage:
    """`build()`'s image, from the code cache when this verdict was compiled with the
    same engine, options and CPU before (bpfjit.cache); stored there otherwise."""
    from . import cache
    if verified.cache_name is None:
        return build()
    name = cache.digest("image", verified.cache_name, engine, options, cache.cpu_identity())
    hit = cache.load(engine, name)
    if hit is not None:
        try:
            return CodeImage.from_record(*hit)
        except (KeyError, TypeError, ValueError):
            pass
    image = build()
    cache.store(engine, name, image.record(), image.code)
    return image
