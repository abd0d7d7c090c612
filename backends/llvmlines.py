"""DWARF line tables for the llvm backend: the BPF pc of each piece of native code, for
`bpfjit disasm --native` (LLVM writes them, `line_table` reads them back)."""

from __future__ import annotations

from . import irtext as ir

__all__ = ["LineInfo", "line_table"]


class LineInfo:
    """DWARF line tables whose "line" is the BPF pc + 1, so that native code can be
    traced back to the BPF instruction it came from (bpfjit disasm --native)."""

    def __init__(self, module):
        self.module = module
        i32 = ir.IntType(32)
        self.file = module.add_debug_info("DIFile", {"filename": "program.bpf",
                                                     "directory": "."})
        self.unit = module.add_debug_info("DICompileUnit", {
            "language": ir.DIToken("DW_LANG_C99"), "file": self.file, "producer": "bpfjit",
            "runtimeVersion": 0, "isOptimized": True,
            "emissionKind": ir.DIToken("LineTablesOnly")}, is_distinct=True)
        module.add_named_metadata("llvm.dbg.cu", self.unit)
        for flag, value in (("Debug Info Version", 3), ("Dwarf Version", 4)):
            module.add_named_metadata("llvm.module.flags",
                                      [ir.Constant(i32, 2), flag, ir.Constant(i32, value)])
        self.type = module.add_debug_info("DISubroutineType",
                                          {"types": module.add_metadata([])})
        self.scopes: dict[object, object] = {}

    def subprogram(self, fn, first: int) -> None:
        sp = self.module.add_debug_info("DISubprogram", {
            "name": fn.name, "file": self.file, "line": first + 1, "unit": self.unit,
            "isDefinition": True, "scopeLine": first + 1, "type": self.type,
            "spFlags": ir.DIToken("DISPFlagDefinition | DISPFlagOptimized")}, is_distinct=True)
        fn.set_metadata("dbg", sp)
        self.scopes[fn] = sp

    def location(self, pc: int, fn):
        return self.module.add_debug_info("DILocation", {"line": pc + 1, "column": 0,
                                                         "scope": self.scopes[fn]})


def line_table(obj: bytes, text_offset: int) -> list[tuple[int, int]]:
    """(offset in the code image, BPF pc) pairs from an object's DWARF line table."""
    import io
    from elftools.elf.elffile import ELFFile
    elf = ELFFile(io.BytesIO(obj))
    if not elf.has_dwarf_info():
        return []
    dwarf = elf.get_dwarf_info()
    rows = []
    for unit in dwarf.iter_CUs():
        for entry in dwarf.line_program_for_CU(unit).get_entries():
            state = entry.state
            if state is not None and not state.end_sequence:
                rows.append((text_offset + state.address, state.line - 1))
    return sorted(rows)
