"""Compile the C kernels in bench/c/ to eBPF bytecode in bench/programs/<name>.bin,
and the XDP programs in bench/xdp/ to bench/programs/<name>.xdp.

Run by `make bench-programs` (needs clang with the BPF target).  Each kernel is
compiled with `clang -O2 -target bpf -mcpu=v3` and loaded with bpfjit's own ELF
loader (bpfjit.elf), entry function `entry` first, then the functions it calls; each
XDP program is its object's `xdp` section.  None uses maps or global data, so the
bytecode stands on its own (and the XDP programs run on the kernel engine too).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import bpfjit

HERE = Path(__file__).parent
CLANG_FLAGS = ["-O2", "-target", "bpf", "-mcpu=v3", "-c"]


def bytecode(obj: Path, xdp: bool = False) -> bytes:
    prog = bpfjit.load_elf(obj, section="xdp") if xdp else bpfjit.load_elf(obj, function="entry")
    if len(prog.maps):
        sys.exit(f"{obj}: uses maps or global data ({', '.join(prog.maps)}), which bench "
                 f"kernels avoid: their bytecode must run on its own")
    return prog.to_bytes()


def main() -> None:
    out = HERE / "programs"
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted((HERE / "c").glob("*.c")):
            obj = Path(tmp) / (source.stem + ".o")
            subprocess.run(["clang", *CLANG_FLAGS, str(source), "-o", str(obj)], check=True)
            (out / f"{source.stem}.bin").write_bytes(bytecode(obj))
            print(f"{source.name} -> programs/{source.stem}.bin")
        for source in sorted((HERE / "xdp").glob("*.c")):
            obj = Path(tmp) / (source.stem + ".o")
            subprocess.run(["clang", *CLANG_FLAGS, str(source), "-o", str(obj)], check=True)
            (out / f"{source.stem}.xdp").write_bytes(bytecode(obj, xdp=True))
            print(f"xdp/{source.name} -> programs/{source.stem}.xdp")


if __name__ == "__main__":
    main()
