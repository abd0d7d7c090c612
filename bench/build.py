"""Compile the C kernels in bench/c/ to eBPF bytecode in bench/programs/<name>.bin.

Run by `make bench-programs` (needs clang with the BPF target).  Each kernel is
compiled with `clang -O2 -target bpf -mcpu=v3`; the object's .text becomes the
program.  The kernels use no maps or global data, and clang resolves calls
between functions of one section itself, so .text needs no relocation; if the
entry function is not first, a two-instruction prologue calls it.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from elftools.elf.elffile import ELFFile

HERE = Path(__file__).parent
CLANG_FLAGS = ["-O2", "-target", "bpf", "-mcpu=v3", "-c"]


def bytecode(obj: Path) -> bytes:
    with obj.open("rb") as f:
        elf = ELFFile(f)
        text = elf.get_section_by_name(".text")
        if any(s["sh_type"] == "SHT_REL" and s.name == ".rel.text" for s in elf.iter_sections()):
            sys.exit(f"{obj}: .text has relocations (maps or globals?), which bench kernels avoid")
        entry = next(s for s in elf.get_section_by_name(".symtab").iter_symbols()
                     if s.name == "entry")
        code = text.data()
    start = entry["st_value"] // 8
    if start == 0:
        return code
    # call local entry; exit  -- the call's target is relative to the next slot
    prologue = struct.pack("<BBhi", 0x85, 0x10, 0, start + 2 - 1) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    return prologue + code


def main() -> None:
    out = HERE / "programs"
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted((HERE / "c").glob("*.c")):
            obj = Path(tmp) / (source.stem + ".o")
            subprocess.run(["clang", *CLANG_FLAGS, str(source), "-o", str(obj)], check=True)
            (out / f"{source.stem}.bin").write_bytes(bytecode(obj))
            print(f"{source.name} -> programs/{source.stem}.bin")


if __name__ == "__main__":
    main()
