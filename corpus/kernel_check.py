"""Compare bpfjit's strict mode with the running kernel's verifier on object files.

For each program of each object: does the kernel load it (`bpftool prog loadall`,
which needs root and a mounted bpffs; nothing is attached), and does bpfjit's strict
mode accept it?  bpfjit should accept every program the kernel accepts, among those
whose program type (context) and helpers it provides; the others are counted apart.

    python corpus/kernel_check.py OBJECT...       (default: corpus/xdp/*.o)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import bpfjit  # noqa: E402
from bpfjit.elf import ElfObject  # noqa: E402

PIN_ROOT = Path("/sys/fs/bpf")


def kernel_loads(obj: Path) -> tuple[bool, str]:
    """Whether the kernel loads every program of the object (bpftool loads them all)."""
    with tempfile.TemporaryDirectory(dir=PIN_ROOT) as pins:
        proc = subprocess.run(["bpftool", "prog", "loadall", str(obj), pins + "/p"],
                              capture_output=True, text=True)
    lines = [l for l in proc.stderr.splitlines() if l.strip() and "libbpf: elf: skipping" not in l]
    return proc.returncode == 0, lines[-1] if lines else ""


def strict(obj: Path) -> list[tuple[str, str, bool]]:
    """(program, "accepted" or the rejection, whether bpfjit provides what it needs)."""
    out = []
    elf = ElfObject(obj)
    for section, function in elf.programs():
        if section == ".text" and len(elf.programs()) > 1:
            continue                    # global subprograms, not programs, for libbpf
        name = f"{section}/{function}"
        try:
            prog = elf.program(section, function)
        except bpfjit.ElfError as exc:                  # a program type bpfjit cannot run
            out.append((name, str(exc), False))
            continue
        supported = True
        try:
            bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
            out.append((name, "accepted", supported))
        except bpfjit.BpfError as exc:
            supported = supported and "is not registered" not in str(exc)
            out.append((name, str(exc), supported))
    return out


def main() -> None:
    if shutil.which("bpftool") is None or not PIN_ROOT.is_dir():
        sys.exit("kernel_check: needs bpftool and a bpffs at /sys/fs/bpf (as root)")
    objects = [Path(a) for a in sys.argv[1:]] or sorted((HERE / "xdp").glob("*.o"))
    counts = {"both": 0, "disagree": 0, "unsupported": 0, "kernel refuses": 0}
    for obj in objects:
        try:
            verdicts = strict(obj)
        except bpfjit.BpfError as exc:
            print(f"{obj.name}: bpfjit cannot load it yet: {exc}")
            continue
        loaded, why = kernel_loads(obj)
        for name, verdict, supported in verdicts:
            ours = verdict == "accepted"
            if not loaded:
                counts["kernel refuses"] += 1
                mark = ""
            elif ours:
                counts["both"] += 1
                mark = ""
            elif not supported:
                counts["unsupported"] += 1
                mark = "   (a program type or helper bpfjit does not provide)"
            else:
                counts["disagree"] += 1
                mark = "   <-- the kernel accepts it"
            print(f"{obj.name}:{name}: kernel {'accepts' if loaded else 'refuses'}"
                  f"{'' if loaded else ' (' + why + ')'}; strict: {verdict}{mark}")
    print(f"both accept {counts['both']}; the kernel accepts and strict refuses "
          f"{counts['disagree']}; needing what bpfjit lacks {counts['unsupported']}; "
          f"the kernel refuses {counts['kernel refuses']}")


if __name__ == "__main__":
    main()
